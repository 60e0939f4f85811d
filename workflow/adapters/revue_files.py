"""The tableau de suivi as files: XLSX (what the partners use) and CSV.

Both speak French to the secretariat: headers and codes as words (`workflow.domain.labels`),
booleans as oui/non. The XLSX has one sheet per rubrique with a bold header row frozen above
filters, columns sized to their content and real dates (dd/mm/yyyy, sortable); the CSV holds the
same rows in one table for French Excel (`french_csv`: semicolons, BOM), a « Rubrique » column
first and every rubrique's columns after it. The rubriques a revue decides on end with two empty
columns, « Décision » (a drop-down list in the XLSX) and « Acteur », that the secretariat fills;
the file sent back is read by `read_back` for `accompagnement revue act`, which takes the words
of the drop-down and the codes alike.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook

from models import Revue
from workflow.adapters import french_csv
from workflow.domain import labels
from workflow.domain.errors import WorkflowError
from workflow.domain.revue_wording import ACTOR, DECISION, VERBS, Line, choices

LISTS = "Listes"  # the hidden sheet of the decision drop-downs
SHEETS = labels.RUBRIQUES
COVER = "Revue"
DAY_FORMAT = "dd/mm/yyyy"
# A header read back names its column: the word, or the code of an older file.
KEYS = {**{word.casefold(): key for key, word in labels.COLUMNS.items()}, **{k: k for k in labels.COLUMNS}}
RUBRIQUE_KEYS = {**{w.casefold(): k for k, w in labels.RUBRIQUES.items()}, **{k: k for k in labels.RUBRIQUES}}


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
    # Text is text: never a formula, a link or a number guessed from it (a sender's free text).
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True, "bg_color": "#E3E3FD", "bottom": 1})
    formats = {
        "day": book.add_format({"num_format": DAY_FORMAT, "align": "left"}),
        # Shown as typed, and still text once a person edits the cell: Excel's leading apostrophe.
        "quoted": book.add_format({"quote_prefix": True}),
    }
    cover = book.add_worksheet(COVER)
    cover_rows: list[tuple[str, Any]] = [
        ("Agence", revue.agence),
        ("Revue de", labels.month(revue.month)),
        ("Tenue le", revue.held_on),
        ("Depuis la revue du", revue.since),
        ("Prochaine revue", revue.next_on),
        ("Secrétariat", labels.word(labels.ROLES, revue.secretariat)),
    ]
    for index, (name, value) in enumerate(cover_rows):
        cover.write(index, 0, name, bold)
        _write(cover, index, 1, value, formats)
    cover.set_column(0, 0, 22)
    cover.set_column(1, 1, 30)
    lists = book.add_worksheet(LISTS)
    for section, title in SHEETS.items():
        sheet = book.add_worksheet(title)
        rows: list[dict[str, Any]] = revue.content.get(section, [])
        columns = _columns(rows, section)
        headers = [labels.word(labels.COLUMNS, c) for c in columns]
        sheet.write_row(0, 0, headers, bold)
        widths = [len(h) for h in headers]
        for index, row in enumerate(rows, start=1):
            for number, column in enumerate(columns):
                shown = _xlsx_value(column, row.get(column))
                _write(sheet, index, number, shown, formats)
                widths[number] = max(widths[number], 10 if isinstance(shown, date) else len(str(shown or "")))
        for number, width in enumerate(widths):
            sheet.set_column(number, number, min(width + 3, 60))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(rows), 1), max(len(columns) - 1, 0))
        if section in VERBS and rows:
            # The choices live on a hidden sheet: an inline list is capped at 255 characters.
            listed = list(VERBS).index(section)
            values = choices(section)
            lists.write_column(0, listed, values)
            letter = xlsxwriter.utility.xl_col_to_name(listed)
            sheet.data_validation(
                1, columns.index(DECISION), len(rows), columns.index(DECISION),
                {"validate": "list", "source": f"='{LISTS}'!${letter}$1:${letter}${len(values)}"},
            )  # fmt: skip
            sheet.set_column(columns.index(DECISION), columns.index(DECISION), 42)
    lists.hide()
    book.close()
    return buffer.getvalue()


def _write(sheet: Any, row: int, column: int, value: Any, formats: dict[str, Any]) -> None:
    if isinstance(value, date):
        sheet.write_datetime(row, column, datetime.combine(value, datetime.min.time()), formats["day"])
    elif isinstance(value, str) and value.startswith(french_csv.FORMULA_START):
        sheet.write_string(row, column, value, formats["quoted"])
    else:
        sheet.write(row, column, value)


def _xlsx_value(column: str, value: Any) -> Any:
    """A cell as the XLSX holds it: a real date, a number, or the word people read."""
    if value is None:
        return None
    if column in labels.DATE_COLUMNS and isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return labels.cell(column, value)


def csv_text(revue: Revue) -> str:
    """Every rubrique's rows in one table, for French Excel."""
    buffer = io.StringIO(newline="")
    sections = [(s, r) for s in SHEETS for r in revue.content.get(s, [])]
    columns = _columns([r for _, r in sections], "*")
    header = [labels.COLUMNS["rubrique"], *(labels.word(labels.COLUMNS, c) for c in columns)]
    french_csv.write_rows(
        buffer,
        header,
        ([SHEETS[section], *(labels.cell(c, row.get(c)) for c in columns)] for section, row in sections),
    )
    return buffer.getvalue()


def read_xlsx(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The tableau of a revue workbook as it was stored (codes, ISO dates), without the columns
    left to fill: what a check compares with `Revue.content`."""
    book = load_workbook(path, read_only=True)
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, title in SHEETS.items():
        values = list(book[title].iter_rows(values_only=True))
        header = [_key(h) for h in values[0]] if values and values[0][0] is not None else []
        sections[section] = [
            {k: _stored(k, v) for k, v in zip(header, row, strict=True) if k not in (DECISION, ACTOR)}
            for row in values[1:]
        ]
    return sections


def _key(header: Any) -> str:
    text = str(header or "").strip()
    return KEYS.get(text.casefold(), text)


def _stored(column: str, value: Any) -> Any:
    """A cell read back as `Revue.content` holds it."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if value in ("oui", "non"):
        return value == "oui"
    table: Mapping[str, str] = labels.COLUMN_VALUES.get(column, {})
    codes = {word: code for code, word in table.items()}
    return codes.get(value, value) if isinstance(value, str) else value


def read_back(path: Path, revue: Revue) -> list[Line]:
    """The rows of a tableau sent back (XLSX or CSV), each with where it was read. An XLSX must
    be this revue's (its cover sheet names the agency and month)."""
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    if path.suffix.lower() != ".xlsx":
        raise WorkflowError(f"{path} : un tableau retourné est un fichier .xlsx ou .csv")
    try:
        book = load_workbook(path, read_only=True)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise WorkflowError(f"{path} : illisible comme classeur XLSX ({exc})") from exc
    if COVER in book.sheetnames:
        cover = {str(row[0]): row[1] for row in book[COVER].iter_rows(values_only=True) if row and row[0]}
        month = cover.get("Revue de", cover.get("Mois"))
        if cover.get("Agence") != revue.agence or month not in (revue.month, labels.month(revue.month)):
            raise WorkflowError(
                f"{path} : c'est le tableau de {cover.get('Agence')} {month}, pas celui de la revue "
                f"n° {revue.id} ({revue.agence}, {labels.month(revue.month)})"
            )
    lines = []
    for section, title in SHEETS.items():
        if section not in VERBS or title not in book.sheetnames:
            continue
        values = list(book[title].iter_rows(values_only=True))
        header = [_key(h) for h in values[0]] if values else []
        for number, row in enumerate(values[1:], start=2):
            lines.append(
                Line(
                    section,
                    f"{path.name}, feuille « {title} », ligne {number}",
                    dict(zip(header, row, strict=False)),
                )
            )
    return lines


def _read_csv(path: Path) -> list[Line]:
    """A CSV sent back, with semicolons (as written) or commas (as some spreadsheets save it)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()  # the BOM, if any, is left out by utf-8-sig
            handle.seek(0)
            reader = csv.reader(handle, delimiter=french_csv.delimiter_of(first))
            header = [_key(h) for h in next(reader, [])]
            missing = {"rubrique", "dossier", DECISION} - set(header)
            if missing:
                named = sorted(labels.COLUMNS[m] for m in missing)
                raise WorkflowError(f"{path}, ligne 1 : colonne(s) manquante(s) : {', '.join(named)}")
            lines = []
            for number, cells in enumerate(reader, start=2):
                row = dict(zip(header, map(french_csv.restore, cells), strict=False))
                rubrique = RUBRIQUE_KEYS.get(str(row.get("rubrique", "")).strip().casefold(), "")
                if rubrique in VERBS:
                    lines.append(Line(rubrique, f"{path.name}, ligne {number}", row))
            return lines
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise WorkflowError(f"{path} : illisible comme CSV UTF-8 ({exc})") from exc


def _columns(rows: list[dict[str, Any]], section: str) -> list[str]:
    """The rows' columns, and the two the secretariat fills where the section takes decisions
    ("*": the CSV, which holds every section)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [*columns, DECISION, ACTOR] if section in VERBS or section == "*" else columns
