"""The composition root (cosmicpython's `bootstrap.py`): engine, sessions, clock, conventions
and the after-commit hook, built in one place for every entry point.

The CLI, the Celery worker, the scheduler and the web console each call `bootstrap` with what
is theirs to choose (the database URL, the clock, what to do with emails once committed) and
get the same wiring. Nothing here imports Celery: an entry point that queues tasks passes its
own hook.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models import database_url, make_engine, make_session_factory
from workflow.adapters import migrations
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import OnCommit, UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import Clock, SystemClock
from workflow.domain.errors import WorkflowError


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
        self._ctx: Context | None = None

    def uow(self) -> UnitOfWork:
        """A unit of work whose committed emails are handed to the process's hook."""
        return UnitOfWork(self.sessions, on_commit=self.on_commit)

    @property
    def ctx(self) -> Context:
        """The service context, built on first use: it records the conventions in the database,
        which a command that only creates the schema must not do before it."""
        if self._ctx is None:
            self._ctx = Context.open(self.uow(), self.clock, load_book(self._conventions))
        return self._ctx


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
