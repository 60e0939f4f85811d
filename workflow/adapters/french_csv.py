"""CSV files that a spreadsheet set to French opens as columns.

French Excel reads a `.csv` with its list separator, the semicolon, and guesses the encoding
from a byte-order mark: a comma-separated UTF-8 file opens as one column of mojibake
(« EntrÃ©es »). So the files people open (the revue's tableau, the indicators, the console's
journal) are written with `;`, a UTF-8 BOM and decimal commas. Reading accepts either separator,
so a tableau re-saved by LibreOffice with commas still comes back.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

DELIMITER = ";"
BOM = "\ufeff"


def value(cell: Any) -> Any:
    """A float with a decimal comma (12,5), as French Excel reads a number; the rest as it is."""
    return f"{cell:g}".replace(".", ",") if isinstance(cell, float) else cell


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
