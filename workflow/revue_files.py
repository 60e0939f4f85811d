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

from openpyxl import Workbook, load_workbook

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
    book = Workbook(write_only=True)  # streamed: a tenth of the time and memory of a full workbook
    cover = book.create_sheet("Revue")
    cover_rows = [
        ("Agence", revue.agence),
        ("Mois", revue.month),
        ("Tenue le", revue.held_on.isoformat()),
        ("Depuis la revue du", revue.since.isoformat()),
        ("Prochaine revue", revue.next_on.isoformat()),
        ("Secrétariat", revue.secretariat),
    ]
    for label, value in cover_rows:
        cover.append([label, value])
    for section, title in SHEETS.items():
        sheet = book.create_sheet(title)
        rows: list[dict[str, Any]] = revue.content.get(section, [])
        columns = _columns(rows)
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
    buffer = io.BytesIO()
    book.save(buffer)
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
