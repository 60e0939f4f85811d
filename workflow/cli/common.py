"""What every command shares: the database it works on, tables, argument types."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

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
    return f"{seconds // 3600} h" if seconds < 172800 else f"{seconds // 86400} days"


def day_arg(text: str) -> date:
    """A day as scripts write it (2026-03-31) or as people do (31/03/2026)."""
    try:
        return parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-31 or 31/03/2026") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


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
