"""What every command shares: the database it works on, tables, argument types."""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NoReturn

from workflow.bootstrap import Runtime, bootstrap
from workflow.domain.clock import Clock
from workflow.domain.labels import parse_day

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
DATABASE_URL_HELP = "default: $DATABASE_URL or sqlite:///accompagnement.db (demo: its own file)"


def connect(url: str | None, clock: Clock | None = None, check_schema: bool = True) -> Runtime:
    """The command's wiring: committed emails go to the workers (sent here without a broker)."""
    return bootstrap(url, clock=clock, on_commit=dispatch_emails, check_schema=check_schema)


def dispatch_emails(email_ids: list[int]) -> None:
    """Queue committed emails to the workers, or send them here when no broker is configured."""
    from tasks.runtime import queue_emails

    queue_emails(email_ids)


def show_progress(no_progress: bool) -> bool:
    """A progress bar only for a person at a terminal: in a log file or a pipe its frames are
    noise (tens of KB of carriage returns)."""
    return not no_progress and sys.stderr.isatty()


def invoked_as() -> str:
    """The command as it was typed (`.venv/bin/accompagnement`, `python -m workflow`), so the
    commands printed as hints run from where the user is, venv activated or not."""
    argv0 = sys.argv[0]
    if argv0.endswith("__main__.py"):
        return f"{shlex.quote(os.path.relpath(sys.executable))} -m workflow"
    if os.sep in argv0 and not shutil.which(os.path.basename(argv0)):
        return shlex.quote(argv0)  # as typed: .venv/bin/accompagnement
    return "accompagnement"


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h" if seconds < 172800 else f"{seconds // 86400} jours"


def day_arg(text: str) -> date:
    """A day as scripts write it (2026-03-31) or as people do (31/03/2026)."""
    try:
        return parse_day(text)
    except ValueError:
        expected = "attendu 31/03/2026 ou 2026-03-31, entre 1900 et 2199"
        raise argparse.ArgumentTypeError(
            f"« {shown(text)} » n'est pas une date{_why(text)} ({expected})"
        ) from None


def _why(text: str) -> str:
    """Why digits written as a day are not one: the day does not exist, or is out of range."""
    parts = text.strip().split("/") if "/" in text else text.strip().split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return ""
    year, month, day = (parts[2], parts[1], parts[0]) if "/" in text else parts
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return " : ce jour n'existe pas"
    return " : hors des années permises"


def shown(text: str, limit: int = 40) -> str:
    """What a person typed, on one line: control characters escaped, cut at `limit`."""
    cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return cut + ("…" if len(text) > limit else "")


@dataclass(frozen=True)
class Whole:
    """An option's whole number, from `low` to `high`; anything else refused in French."""

    low: int
    high: int

    def __call__(self, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"« {shown(text)} » n'est pas un nombre entier") from None
        if not self.low <= value <= self.high:
            raise argparse.ArgumentTypeError(f"{value} est hors des bornes : de {self.low} à {self.high}")
        return value


@dataclass(frozen=True)
class Decimal:
    """An option's number (12,5 or 12.5), finite, from `low` to `high`; anything else refused in
    French: a NaN or an infinity would make a projection never end."""

    low: float
    high: float

    def __call__(self, text: str) -> float:
        try:
            value = float(text.strip().replace(",", "."))
        except ValueError:
            raise argparse.ArgumentTypeError(f"« {shown(text)} » n'est pas un nombre") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"« {shown(text)} » n'est pas un nombre fini")
        if not self.low <= value <= self.high:
            number, bounds = f"{value:g}".replace(".", ","), f"de {self.low:g} à {self.high:g}"
            raise argparse.ArgumentTypeError(f"{number} est hors des bornes : {bounds}")
        return value


LIMIT = Whole(1, 100_000)  # how many rows a listing shows
ROW_ID = Whole(1, 2**63 - 1)  # a row's number, as the databases keep it


class FrenchParser(argparse.ArgumentParser):
    """argparse, its refusals in French on one line, exit 2 (`accompagnement … --help` says more)."""

    PATTERNS = (
        (re.compile(r"^argument (-.+?): (.*)$"), r"option \1 : \2"),
        (re.compile(r"^argument (.+?): (.*)$"), r"argument \1 : \2"),
        (re.compile(r"^the following arguments are required: (.*)$"), r"il manque : \1"),
        (re.compile(r"^unrecognized arguments: (.*)$"), r"arguments inconnus : \1"),
        (re.compile(r"invalid choice: (.*) \(choose from (.*)\)"), r"choix inconnu : \1 (au choix : \2)"),
        (re.compile(r"expected one argument"), r"une valeur est attendue"),
        (re.compile(r"invalid (\w+) value: (.*)"), r"valeur invalide : \2"),
    )

    def error(self, message: str) -> NoReturn:
        for pattern, french in self.PATTERNS:
            message = pattern.sub(french, message)
        self.exit(EXIT_USAGE, f"erreur : {message} (voir `{self.prog} --help`)\n")


Subparsers = argparse._SubParsersAction  # the type argparse gives `add_subparsers()`


def group(
    sub: Subparsers[argparse.ArgumentParser], name: str, help_text: str
) -> Subparsers[argparse.ArgumentParser]:
    return sub.add_parser(name, help=help_text).add_subparsers(dest="action", required=True, metavar="ACTION")


def command(
    parent: Subparsers[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    help_text: str,
) -> argparse.ArgumentParser:
    p = parent.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(func=func)
    # Accepted after the command too (`accompagnement demo --database-url …`), as people type it.
    p.add_argument("--database-url", default=argparse.SUPPRESS, help=DATABASE_URL_HELP)
    return p
