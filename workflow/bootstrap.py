"""The composition root (cosmicpython's `bootstrap.py`): engine, sessions, clock, conventions
and the after-commit hook, built in one place for every entry point.

The CLI, the Celery worker, the scheduler and the web console each call `bootstrap` with what
is theirs to choose (the database URL, the clock, what to do with emails once committed) and
get the same wiring. Nothing here imports Celery: an entry point that queues tasks passes its
own hook.
"""

from __future__ import annotations

import gc
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Case, database_url, make_engine, make_session_factory
from workflow.adapters import migrations
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import OnCommit, UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import Clock, SystemClock
from workflow.domain.conventions import ConventionBook
from workflow.domain.errors import ConfigurationError, WorkflowError


class Runtime:
    """The database, the clock and the conventions one process works with."""

    def __init__(
        self,
        url: str,
        engine: Engine,
        clock: Clock,
        on_commit: OnCommit | None,
        conventions: Path | None,
    ) -> None:
        self.url = url
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self.clock = clock
        self.on_commit = on_commit
        self._conventions = conventions
        self._book: ConventionBook | None = None
        self._ctx: Context | None = None

    def uow(self) -> UnitOfWork:
        """A unit of work whose committed emails are handed to the process's hook."""
        return UnitOfWork(self.sessions, on_commit=self.on_commit)

    @property
    def book(self) -> ConventionBook:
        """The conventions: the shipped file and the operator's override, read once."""
        if self._book is None:
            self._book = load_book(self._conventions)
        return self._book

    @property
    def ctx(self) -> Context:
        """The service context, built on first use: it records the conventions in the database,
        which a command that only creates the schema must not do before it."""
        if self._ctx is None:
            self._ctx = Context.open(self.uow(), self.clock, self.book)
        return self._ctx

    def upgrade(self) -> None:
        """Bring the schema to the code's head (Alembic)."""
        migrations.upgrade(self.engine)


def bootstrap(
    url: str | None = None,
    *,
    clock: Clock | None = None,
    on_commit: OnCommit | None = None,
    check_schema: bool = True,
    conventions: Path | None = None,
) -> Runtime:
    """Wire one process. `url` defaults to $DATABASE_URL (else the embedded SQLite file);
    `check_schema` refuses a database that has no schema yet, with the command that makes it."""
    url = url or database_url()
    migrations.check_url(url, may_create=not check_schema)
    engine = make_engine(url)
    if check_schema and not migrations.is_current(migrations.reachable(engine)):
        raise WorkflowError(f"la base {url} n'a pas encore de schéma : lancez `accompagnement db upgrade`")
    return Runtime(url, engine, clock or SystemClock(), on_commit, conventions)


def start_empty(url: str, own_file: Path) -> None:
    """Make room for a run that starts from nothing (the demo): its own SQLite file is removed
    (with its journal files); any other database must hold no case, and is left as it is."""
    if url == f"sqlite:///{own_file}":
        for suffix in ("", "-wal", "-shm"):
            own_file.with_name(own_file.name + suffix).unlink(missing_ok=True)
        return
    engine = make_engine(url)
    try:
        cases = 0
        if migrations.is_current(engine):
            with engine.connect() as conn:
                cases = conn.scalar(select(func.count()).select_from(Case)) or 0
    finally:
        engine.dispose()
    if cases:
        raise ConfigurationError(
            f"{url} contient déjà {cases} dossier(s) : la démonstration demande une base vide"
        )


# Process-wide settings for the long ingestion runs (a worker child, `events ingest`, `demo`).
# Applying a batch allocates tens of thousands of short-lived objects (ORM rows, events, dicts).
# With the default threshold (700 allocations) the cyclic garbage collector runs hundreds of times
# per batch and rescans every long-lived object each time. Freezing what exists at start-up
# (imports, the app) and collecting less often measured +16 to 26 % events/s on the direct batch
# path and took Celery batches from 22 % to 28 % of the raw-SQL floor (docs/benchmarks.md), with
# the workers' memory still flat.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
