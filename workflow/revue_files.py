"""The tableau de suivi as files: XLSX (what the partners use) and CSV.

The XLSX has one sheet per section with French headers; the CSV holds the same rows in one
table, a `rubrique` column first and every section's columns after it (empty where a section
has none), so a spreadsheet or a script reads it alike.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook

from models import Revue

SHEETS = {
    "entrees": "Entrées à acter",
    "renouvellements": "Renouvellements",
    "sorties": "Sorties à acter",
    "a_debattre": "À débattre",
    "conseillers": "Conseillers",
    "chiffres": "Chiffres du mois",
}


def file_stem(revue: Revue) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in revue.agence)
    return f"revue-{safe}-{revue.month}"


def write(revue: Revue, directory: Path) -> tuple[Path, Path]:
    """Write `<stem>.xlsx` and `<stem>.csv` in `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / file_stem(revue)
    xlsx, table = stem.with_suffix(".xlsx"), stem.with_suffix(".csv")
    xlsx.write_bytes(xlsx_bytes(revue))
    table.write_text(csv_text(revue), encoding="utf-8", newline="")
    return xlsx, table


def xlsx_bytes(revue: Revue) -> bytes:
    """The workbook, written with XlsxWriter (three times faster than openpyxl here, which the
    revues of a whole département feel); openpyxl reads it back (`read_xlsx`)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    cover = book.add_worksheet("Revue")
    cover_rows = [
        ("Agence", revue.agence),
        ("Mois", revue.month),
        ("Tenue le", revue.held_on.isoformat()),
        ("Depuis la revue du", revue.since.isoformat()),
        ("Prochaine revue", revue.next_on.isoformat()),
        ("Secrétariat", revue.secretariat),
    ]
    for index, pair in enumerate(cover_rows):
        cover.write_row(index, 0, pair)
    for section, title in SHEETS.items():
        sheet = book.add_worksheet(title)
        rows: list[dict[str, Any]] = revue.content.get(section, [])
        columns = _columns(rows)
        sheet.write_row(0, 0, columns)
        for index, row in enumerate(rows, start=1):
            sheet.write_row(index, 0, [row.get(c) for c in columns])
    book.close()
    return buffer.getvalue()


def csv_text(revue: Revue) -> str:
    buffer = io.StringIO(newline="")
    sections = [(s, r) for s in SHEETS for r in revue.content.get(s, [])]
    writer = csv.DictWriter(buffer, fieldnames=["rubrique", *_columns([r for _, r in sections])])
    writer.writeheader()
    for section, row in sections:
        writer.writerow({"rubrique": section, **row})
    return buffer.getvalue()


def read_xlsx(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The sections of a revue workbook, as written (for checks, and the file sent back)."""
    book = load_workbook(path, read_only=True)
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, title in SHEETS.items():
        values = list(book[title].iter_rows(values_only=True))
        header = [str(h) for h in values[0]] if values and values[0][0] is not None else []
        sections[section] = [dict(zip(header, row, strict=True)) for row in values[1:]]
    return sections


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))
