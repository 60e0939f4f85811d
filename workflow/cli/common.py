"""What every command shares: the database it works on, tables, argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from models import make_engine, make_session_factory
from workflow.adapters import migrations as database
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import Clock, SystemClock
from workflow.domain.conventions import load_book
from workflow.domain.errors import WorkflowError

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
DATABASE_URL_HELP = "default: $DATABASE_URL or sqlite:///accompagnement.db (demo: its own file)"


class Runtime:
    """The database and conventions one command works with."""

    def __init__(self, url: str, clock: Clock | None = None, check_schema: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if check_schema and not database.is_current(self.engine):
            raise WorkflowError(f"database {url} has no schema yet: run `accompagnement db upgrade`")
        self.sessions = make_session_factory(self.engine)
        self.clock = clock or SystemClock()
        self._ctx: Context | None = None

    def uow(self) -> UnitOfWork:
        """A unit of work whose committed emails are queued for sending once it commits."""
        return UnitOfWork(self.sessions, on_commit=dispatch_emails)

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context.open(self.uow(), self.clock, load_book())
        return self._ctx


def dispatch_emails(email_ids: list[int]) -> None:
    """Queue committed emails to the workers, or send them here when no broker is configured."""
    from tasks.emails import dispatch

    dispatch(email_ids)


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
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-31") from None


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
