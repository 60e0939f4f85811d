"""The tableau de suivi as files: XLSX (what the partners use) and CSV.

The XLSX has one sheet per section with French headers; the CSV holds the same rows in one
table, a `rubrique` column first and every section's columns after it (empty where a section
has none), so a spreadsheet or a script reads it alike. The sections a revue decides on end with
two empty columns, `decision` (a drop-down list in the XLSX) and `acteur`, that the secretariat
fills; the file sent back is read by `read_back` for `accompagnement revue act`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook

from models import Revue
from workflow.domain.errors import WorkflowError
from workflow.domain.revue_wording import ACTOR, DECISION, VERBS, Line, choices

LISTS = "Listes"  # the hidden sheet of the decision drop-downs
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
    lists = book.add_worksheet(LISTS)
    for section, title in SHEETS.items():
        sheet = book.add_worksheet(title)
        rows: list[dict[str, Any]] = revue.content.get(section, [])
        columns = _columns(rows, section)
        sheet.write_row(0, 0, columns)
        for index, row in enumerate(rows, start=1):
            sheet.write_row(index, 0, [row.get(c) for c in columns])
        if section in VERBS and rows:
            # The choices live on a hidden sheet: an inline list is capped at 255 characters.
            column = list(VERBS).index(section)
            values = choices(section)
            lists.write_column(0, column, values)
            letter = xlsxwriter.utility.xl_col_to_name(column)
            sheet.data_validation(
                1, columns.index(DECISION), len(rows), columns.index(DECISION),
                {"validate": "list", "source": f"='{LISTS}'!${letter}$1:${letter}${len(values)}"},
            )  # fmt: skip
    lists.hide()
    book.close()
    return buffer.getvalue()


def csv_text(revue: Revue) -> str:
    buffer = io.StringIO(newline="")
    sections = [(s, r) for s in SHEETS for r in revue.content.get(s, [])]
    writer = csv.DictWriter(buffer, fieldnames=["rubrique", *_columns([r for _, r in sections], "*")])
    writer.writeheader()
    for section, row in sections:
        writer.writerow({"rubrique": section, **row})
    return buffer.getvalue()


def read_xlsx(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The tableau of a revue workbook as written, without the columns left to fill (checks)."""
    book = load_workbook(path, read_only=True)
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, title in SHEETS.items():
        values = list(book[title].iter_rows(values_only=True))
        header = [str(h) for h in values[0]] if values and values[0][0] is not None else []
        sections[section] = [
            {k: v for k, v in zip(header, row, strict=True) if k not in (DECISION, ACTOR)}
            for row in values[1:]
        ]
    return sections


def read_back(path: Path, revue: Revue) -> list[Line]:
    """The rows of a tableau sent back (XLSX or CSV), each with where it was read. An XLSX must
    be this revue's (its cover sheet names the agency and month)."""
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    if path.suffix.lower() != ".xlsx":
        raise WorkflowError(f"{path}: a tableau sent back is an .xlsx or a .csv file")
    try:
        book = load_workbook(path, read_only=True)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise WorkflowError(f"{path}: cannot be read as an XLSX workbook ({exc})") from exc
    if "Revue" in book.sheetnames:
        cover = {str(row[0]): row[1] for row in book["Revue"].iter_rows(values_only=True) if row and row[0]}
        if (cover.get("Agence"), cover.get("Mois")) != (revue.agence, revue.month):
            raise WorkflowError(
                f"{path}: this is the tableau of {cover.get('Agence')} {cover.get('Mois')}, not of revue "
                f"{revue.id} ({revue.agence}, {revue.month})"
            )
    lines = []
    for section, title in SHEETS.items():
        if section not in VERBS or title not in book.sheetnames:
            continue
        values = list(book[title].iter_rows(values_only=True))
        header = [str(h) if h is not None else "" for h in values[0]] if values else []
        for number, row in enumerate(values[1:], start=2):
            lines.append(
                Line(
                    section,
                    f"{path.name}, sheet « {title} », line {number}",
                    dict(zip(header, row, strict=False)),
                )
            )
    return lines


def _read_csv(path: Path) -> list[Line]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"rubrique", "dossier", DECISION} - set(reader.fieldnames or ())
            if missing:
                raise WorkflowError(f"{path}, line 1: missing column(s) {sorted(missing)}")
            return [
                Line(row["rubrique"], f"{path.name}, line {reader.line_num}", row)
                for row in reader
                if row.get("rubrique") in VERBS
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise WorkflowError(f"{path}: cannot be read as a UTF-8 CSV ({exc})") from exc


def _columns(rows: list[dict[str, Any]], section: str) -> list[str]:
    """The rows' columns, and the two the secretariat fills where the section takes decisions
    ("*": the CSV, which holds every section)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [*columns, DECISION, ACTOR] if section in VERBS or section == "*" else columns
