"""Fixtures shared by every tier.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names another
(`.ci/run` runs the suite again on PostgreSQL). With ACCOMPAGNEMENT_REQUIRE_SERVICES=1, as in
CI, a database that cannot be reached fails the run instead of skipping its tests.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from models import Base, Case, Reminder, TransitionLog, make_engine, make_session_factory
from tests.factories import PROFESSIONALS_CSV
from workflow.adapters import migrations as database
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import OnCommit, UnitOfWork
from workflow.application import directory
from workflow.application.handling import Handled, handle_in_savepoint
from workflow.application.ingest import IngestReport, ingest_lines
from workflow.application.reminders import daily_scan, planning
from workflow.application.reminders.daily_scan import ScanReport
from workflow.application.service_context import Context
from workflow.domain.clock import PARIS, ManualClock
from workflow.domain.events import parse_object

REQUIRE_SERVICES = os.environ.get("ACCOMPAGNEMENT_REQUIRE_SERVICES") == "1"

# What makes a test slow: it starts processes (the command line, Celery workers, a web server, a
# browser) or talks to the broker; a module of thousands of events marks itself. `pytest -m "not
# slow"` leaves those out: the quick first check of the rules, the database and the door in
# process (docs/developing.md).
SLOW_FIXTURES = frozenset({"worker", "sweeper", "broker_url", "page"})
SLOW_FOLDERS = ("tests/e2e/",)


ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks slow tests (above), and skips on SQLite the tests marked
    `@pytest.mark.postgres(reason=...)`: what they check is PostgreSQL's own."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES or item.nodeid.startswith(SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)
        needs = item.get_closest_marker("postgres")
        if needs is not None and not ON_POSTGRESQL:
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {needs.kwargs['reason']}"))


def service_unavailable(what: str) -> None:
    """Skip a test whose service is missing, or fail it when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (ACCOMPAGNEMENT_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} unavailable")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        service_unavailable(f"database {database_url} ({exc.orig})")
    _drop_everything(engine)
    database.upgrade(engine)
    yield engine
    engine.dispose()


def _drop_everything(engine: Engine) -> None:
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after the test."""
    yield engine
    empty_tables(engine)


def empty_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The audit tables refuse TRUNCATE by trigger; the test's own cleanup lifts it (superuser).
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(scope="session")
def broker_url() -> str:
    """A Redis database of its own (15 unless TEST_BROKER_URL says otherwise), flushed per test."""
    import redis

    url = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis at {url} ({exc})")
    return url


@pytest.fixture
def worker(db: Engine, database_url: str, broker_url: str, tmp_path: Any) -> Iterator[Any]:
    """A real worker process (2 children) on the real broker, against the test database."""
    from tests.workers import Worker, flush

    flush(broker_url)
    process = Worker(database_url, broker_url, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()
    flush(broker_url)


@pytest.fixture
def sweeper(worker: Any, database_url: str, broker_url: str) -> Iterator[Any]:
    """The scheduler's inbox sweep beside the worker: deferred events come back, lost ones too."""
    from tests.workers import Sweeper

    running = Sweeper(database_url, broker_url).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _operator_settings_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own sealing key or log format must not change what the tests see."""
    for name in ("ACCOMPAGNEMENT_AUDIT_KEY", "ACCOMPAGNEMENT_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


class Harness:
    """Drives the service layer the way the ingestion path does, one committed event at a time."""

    def __init__(
        self, sessions: sessionmaker[Session], ctx: Context, on_commit: OnCommit | None = None
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.on_commit = on_commit

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.on_commit)

    def scan(self, day: date, digest: bool = False) -> ScanReport:
        """The daily reminder scan of `day`, the clock set to that morning."""
        assert isinstance(self.ctx.clock, ManualClock)
        self.ctx.clock.set(datetime.combine(day, time(6), PARIS))
        return daily_scan.scan(self.uow(), self.ctx, day, digest=digest)

    def upcoming(self, ref: str) -> list[tuple[str, date]]:
        """The case's reminders still to come (kind, day): derived, not yet written."""
        with self.sessions() as session:
            case = session.scalar(select(Case).where(Case.reference == ref))
            assert case is not None, f"no case {ref}"
            return [(p.kind, p.due) for p in planning.upcoming(session, self.ctx, case)]

    def reminders(self, ref: str) -> list[Reminder]:
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(Reminder)
                    .join(Case)
                    .where(Case.reference == ref)
                    .order_by(Reminder.due_date, Reminder.kind)
                )
            )
            session.expunge_all()
            return rows

    def apply(self, *events: dict[str, Any]) -> list[Handled]:
        outcomes = []
        for data in events:
            with self.uow() as uow:
                outcomes.append(handle_in_savepoint(uow, self.ctx, parse_object(data)))
                uow.commit()
        return outcomes

    def ingest(self, lines: list[str], source: str = "test.jsonl", buffered: bool = True) -> IngestReport:
        return ingest_lines(self.uow(), self.ctx, lines, source, buffered=buffered)

    def ingest_events(self, events: list[dict[str, Any]]) -> IngestReport:
        return self.ingest([json.dumps(e) for e in events])

    def case(self, ref: str) -> Case:
        with self.sessions() as session:
            case = session.scalar(select(Case).options(joinedload(Case.person)).where(Case.reference == ref))
            assert case is not None, f"no case {ref}"
            session.expunge_all()
            return case

    def log(self, ref: str) -> list[TransitionLog]:
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(TransitionLog)
                    .where(TransitionLog.case_reference == ref)
                    .order_by(TransitionLog.seq)
                )
            )
            session.expunge_all()
            return rows


def make_harness(
    db: Engine, clock: ManualClock, override: Any = None, on_commit: OnCommit | None = None
) -> Harness:
    sessions = make_session_factory(db)
    with UnitOfWork(sessions) as uow:
        directory.import_rows(uow, directory.read_csv(io.StringIO(PROFESSIONALS_CSV), "test"))
        uow.commit()
    ctx = Context.open(UnitOfWork(sessions), clock, load_book(override))
    return Harness(sessions, ctx, on_commit)


@pytest.fixture
def harness(db: Engine, clock: ManualClock) -> Harness:
    return make_harness(db, clock)


@pytest.fixture
def task_runtime(db: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks called in this process (no broker: eager) work on the test database."""
    import tasks.runtime

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(tasks.runtime, "_runtime", None)
    yield
    if tasks.runtime._runtime is not None:
        tasks.runtime._runtime.engine.dispose()


@pytest.fixture
def smtp(task_runtime: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real SMTP server on loopback, and the settings that make the sending task use it (and
    the test database) in this process."""
    from tests.smtp import SmtpSink

    sink = SmtpSink()
    sink.start()
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_SECURITY", "none")
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_TIMEOUT", "5")
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("ACCOMPAGNEMENT_MAIL_FROM", "rappels@ag.example")
    yield sink
    sink.stop()


@pytest.fixture
def mailing(db: Engine, clock: ManualClock, smtp: Any) -> Harness:
    """A harness whose committed emails are sent at once, in this process, to `smtp`."""
    from tasks.emails import send_now

    return make_harness(db, clock, on_commit=send_now)
