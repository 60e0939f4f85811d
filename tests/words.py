"""What a person must never read: a code where its word exists, a boolean, an ISO date.

`bare_codes(text)` lists them in a text a caseworker or a supervisor reads (a page's visible
text, a tableau's cells, an email): snake_case codes (`sans_entree_jamais_venu`), codes that are
their word without its accents (`reperage` for « Repérage »), True/False/None, and dates written
2026-04-01 instead of 01/04/2026.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

from workflow.domain import labels


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()


CODES = sorted(
    {
        code
        for table in labels.TABLES.values()
        for code, word in table.items()
        if "_" in code or (_plain(word) == code and word.lower() != code)
    }
)
PATTERN = re.compile(
    r"\b(" + "|".join(map(re.escape, CODES)) + r")\b|\b(True|False|None)\b|\b(\d{4}-\d{2}-\d{2})\b"
)


def bare_codes(text: str) -> list[str]:
    return [match.group(0) for match in PATTERN.finditer(text)]


class _Visible(HTMLParser):
    """The text a page shows (not its attributes, scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)
