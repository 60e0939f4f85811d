"""Unit of work (cosmicpython, chapter 6): leaving the block rolls back unless committed.

A failed guard, an effect that raises, or a crash between the state change and the log row
therefore leave nothing behind: the case row, its log row and the processed-event row are
written together or not at all.

It also keeps the outbox promise (les-emplois' `on_commit`): the repositories that write an
email row register it (`uow.emails.add`, `workflow.adapters.email_registry`); only once the
transaction has committed are the ids of those that survived handed to `on_commit` (the entry
point queues the sending tasks there). A rolled-back email is never announced, and an email is
never sent from inside a transaction.

Handlers reach storage through its repositories (`uow.cases`, `uow.log`, …, see
`workflow.adapters.repositories`): row by row unless the caller asked for a chunk to be
buffered (`buffer_chunk`). A commit writes the buffered rows first; a commit or a rollback
returns to row by row, so a memory never outlives its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from workflow.adapters.bookkeeping import (
    AccessDenials,
    AuditSeals,
    ConventionVersions,
    Directory,
    Revues,
    ScheduledRuns,
)
from workflow.adapters.email_registry import take_registered
from workflow.adapters.inbox_rows import InboxRows, RejectedEvents
from workflow.adapters.outbox_rows import Emails, Reminders
from workflow.adapters.reminder_rounds import ReminderRounds
from workflow.adapters.repositories import (
    Appointments,
    Cases,
    ChunkBuffered,
    Log,
    People,
    Processed,
    Professionals,
    RowByRow,
    Storage,
    named_professionals,
)

log = logging.getLogger(__name__)

OnCommit = Callable[[list[int]], None]


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], on_commit: OnCommit | None = None) -> None:
        self._factory = session_factory
        self._on_commit = on_commit

    session: Session
    inbox: InboxRows
    rejections: RejectedEvents
    cases: Cases
    people: People
    appointments: Appointments
    log: Log
    processed: Processed
    professionals: Professionals
    reminder_rounds: ReminderRounds
    directory: Directory
    convention_versions: ConventionVersions
    scheduled_runs: ScheduledRuns
    emails: Emails
    reminders: Reminders
    revues: Revues
    access_denials: AccessDenials
    audit_seals: AuditSeals

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.inbox = InboxRows(self.session)
        self.rejections = RejectedEvents(self.session)
        self.professionals = Professionals(self.session)
        self.reminder_rounds = ReminderRounds(self.session)
        self.directory = Directory(self.session)
        self.convention_versions = ConventionVersions(self.session)
        self.scheduled_runs = ScheduledRuns(self.session)
        self.emails = Emails(self.session)
        self.reminders = Reminders(self.session)
        self.revues = Revues(self.session)
        self.access_denials = AccessDenials(self.session)
        self.audit_seals = AuditSeals(self.session)
        self._use(RowByRow(self.session))
        return self

    def _use(self, storage: Storage) -> None:
        self._storage = storage
        self.cases, self.people, self.appointments = storage.cases, storage.people, storage.appointments
        self.log, self.processed = storage.log, storage.processed

    def buffer_chunk(self, events: Iterable[Any]) -> None:
        """Prefetch what `events` need and buffer their append-only rows until the commit."""
        events = list(events)
        self._use(ChunkBuffered.prefetch(self.session, events))
        self.professionals.load(named_professionals(events))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        take_registered(self.session)
        self.session.close()
        self._use(RowByRow(self.session))

    def commit(self) -> None:
        self._storage.write()
        self._use(RowByRow(self.session))
        self.session.flush()
        written = take_registered(self.session)
        # An email object added in a savepoint or transaction that rolled back is transient again.
        ids = [
            e if isinstance(e, int) else e.id for e in written if isinstance(e, int) or inspect(e).persistent
        ]
        self.session.commit()
        if ids and self._on_commit is not None:
            try:
                self._on_commit(ids)
            except Exception:
                # Committed is committed: the rows stay pending and the next sweep (`reminders
                # run`) queues them. Raising here would make callers redo committed work.
                log.exception(
                    "%d email(s) non mis en file après validation : le prochain passage s'en charge", len(ids)
                )

    def savepoint(self) -> SessionTransaction:
        """A savepoint in the transaction: rolled back alone, it undoes only what followed it."""
        return self.session.begin_nested()

    def flush(self) -> None:
        """Send the pending writes now, inside the transaction (ids assigned, constraints met)."""
        self.session.flush()

    def take_write_lock(self) -> None:
        """Begin the transaction as a writer now. On SQLite, pysqlite begins a transaction only at
        the first write: until then reads see whatever was last committed, and a savepoint opened
        first would start the transaction itself, its release then committing everything (two
        secretaries acting one revue were both told "déjà appliquée"). A no-op write takes the
        database's write lock at once, waiting for a concurrent writer's commit, so what follows
        reads and writes as one transaction. PostgreSQL needs nothing: it locks rows."""
        if self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))

    def rollback(self) -> None:
        """Roll back and forget the emails, buffered rows and directory reads of the transaction
        (the unit of work stays usable, row by row)."""
        self.session.rollback()
        take_registered(self.session)
        self.professionals = Professionals(self.session)
        self._use(RowByRow(self.session))
