"""CSV files that a spreadsheet set to French opens as columns.

French Excel reads a `.csv` with its list separator, the semicolon, and guesses the encoding
from a byte-order mark: a comma-separated UTF-8 file opens as one column of mojibake
(« EntrÃ©es »). So the files people open (the revue's tableau, the indicators, the console's
journal) are written with `;`, a UTF-8 BOM and decimal commas. Reading accepts either separator,
so a tableau re-saved by LibreOffice with commas still comes back.

No cell ever becomes a formula: a text that a spreadsheet would evaluate (it begins with `=`,
`+`, `-`, `@`, a tab or a carriage return, OWASP's "CSV injection" list) is written after an
apostrophe, and so is a text that begins with one, so that `restore` gives back exactly what was
written. A sender's free text (an agency's name, an event id) is never run on a caseworker's
computer.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

DELIMITER = ";"
BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def inert(text: str) -> str:
    """The text as a cell that no spreadsheet evaluates (see the module's docstring)."""
    return QUOTE + text if text.startswith((*FORMULA_START, QUOTE)) else text


def restore(text: str) -> str:
    """The text `inert` was given."""
    return text[1:] if text.startswith(QUOTE) else text


def value(cell: Any) -> Any:
    """A float with a decimal comma (12,5), as French Excel reads a number; a text made inert;
    the rest as it is."""
    if isinstance(cell, float):
        return f"{cell:g}".replace(".", ",")
    return inert(cell) if isinstance(cell, str) else cell


def write_rows(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """The BOM, the header, then the rows; return how many rows."""
    out.write(BOM)
    writer = csv.writer(out, delimiter=DELIMITER)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([value(cell) for cell in row])
        count += 1
    return count


def delimiter_of(header_line: str) -> str:
    """The separator a file was saved with, from its header line."""
    return DELIMITER if header_line.count(DELIMITER) >= header_line.count(",") else ","
