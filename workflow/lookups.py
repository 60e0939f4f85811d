"""The rows one chunk of events needs, fetched in a handful of queries.

Applying an event touches its case, its person, the case's last log row, perhaps an
appointment, and the processed-event table. Fetched one by one that is five or six round trips
per event; `Lookups.load` fetches them for a whole chunk (cases locked FOR UPDATE, in id order so
two workers lock in the same order), and the service functions read them from here while the
chunk's transaction lasts. Only the fast path installs Lookups: the savepoint path, whose
rollbacks would make such a memory stale, queries each row as it goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Insert, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import Appointment, Case, Person, ProcessedEvent, Reminder, TransitionLog
from workflow.vocabulary import ReminderStatus

_KEY = "lookups"
# Events whose guards read the person (registration, status): their persons are loaded with
# the cases; for the others a case's person is loaded only if something asks for it.
_NEEDS_PERSON = frozenset({"diagnostic_done", "contract_signed", "exit_decided"})


@dataclass(frozen=True)
class Applied:
    """What the duplicate check needs of a processed event, without an ORM object."""

    type: str
    payload_sha256: str
    applied_at: datetime
    case_reference: str | None


class Lookups:
    def __init__(self) -> None:
        self.processed: dict[str, Applied | None] = {}
        self.cases: dict[str, Case | None] = {}
        self.persons: dict[str, Person | None] = {}
        self.appointments: dict[str, Appointment | None] = {}
        self.heads: dict[int, tuple[int, str] | None] = {}
        # Rows the chunk adds to append-only tables, written in bulk before commit: the ORM would
        # insert log rows one by one to fetch each new id, which nothing in a chunk needs.
        self.log_rows: list[dict[str, Any]] = []
        self.processed_rows: list[dict[str, Any]] = []
        # Reminder rows planned and cancelled by the chunk's transitions (`write_reminder_changes`).
        self.reminder_adds: list[dict[str, Any]] = []
        self.reminder_cancels: list[dict[str, Any]] = []

    def write(self, session: Session) -> None:
        """Write the chunk's new log and processed-event rows (call before commit)."""
        for table, rows in (
            (TransitionLog.__table__, self.log_rows),
            (ProcessedEvent.__table__, self.processed_rows),
        ):
            if rows:
                _bulk_insert(session, table, rows)  # type: ignore[arg-type]
        write_reminder_changes(session, self.reminder_adds, self.reminder_cancels)
        self.log_rows, self.processed_rows, self.reminder_adds, self.reminder_cancels = [], [], [], []

    @staticmethod
    def of(session: Session) -> Lookups | None:
        found: Lookups | None = session.info.get(_KEY)
        return found

    @staticmethod
    def clear(session: Session) -> None:
        session.info.pop(_KEY, None)

    @classmethod
    def load(cls, session: Session, events: Iterable[Any]) -> Lookups:
        """Fetch what `events` will need and install it on the session."""
        events = list(events)
        lookups = cls()
        ids = [e.event_id for e in events]
        refs = sorted({e.case_ref for e in events if getattr(e, "case_ref", None)})
        people = {e.ft_identifier for e in events if getattr(e, "ft_identifier", None)}
        people |= {e.person.ft_identifier for e in events if getattr(e, "person", None)}
        rdv = {e.appointment_id for e in events if getattr(e, "appointment_id", None)}

        lookups.processed = dict.fromkeys(ids)
        seen = select(
            ProcessedEvent.event_id, ProcessedEvent.type, ProcessedEvent.payload_sha256,
            ProcessedEvent.applied_at, ProcessedEvent.case_reference,
        ).where(ProcessedEvent.event_id.in_(ids))  # fmt: skip
        for event_id, kind, digest, applied_at, reference in session.execute(seen):
            lookups.processed[event_id] = Applied(kind, digest, applied_at, reference)
        lookups.cases = dict.fromkeys(refs)
        if refs:
            query = select(Case).where(Case.reference.in_(refs)).order_by(Case.id).with_for_update()
            for case in session.scalars(query):
                lookups.cases[case.reference] = case
        wanted = {e.case_ref for e in events if e.type in _NEEDS_PERSON}
        person_ids = {c.person_id for ref, c in lookups.cases.items() if c is not None and ref in wanted}
        lookups.persons = dict.fromkeys(people)
        if people or person_ids:
            persons = select(Person).where(Person.ft_identifier.in_(people) | Person.id.in_(person_ids))
            for person in session.scalars(persons):
                lookups.persons[person.ft_identifier] = person  # also keeps it in the identity map
        lookups.appointments = dict.fromkeys(rdv)
        if rdv:
            for appointment in session.scalars(select(Appointment).where(Appointment.external_id.in_(rdv))):
                lookups.appointments[appointment.external_id] = appointment
        case_ids = [c.id for c in lookups.cases.values() if c is not None]
        lookups.heads = dict.fromkeys(case_ids)
        if case_ids:
            last = (
                select(TransitionLog.case_id, func.max(TransitionLog.seq).label("seq"))
                .where(TransitionLog.case_id.in_(case_ids))
                .group_by(TransitionLog.case_id)
                .subquery()
            )
            heads = select(TransitionLog.case_id, TransitionLog.seq, TransitionLog.hash).join(
                last, (TransitionLog.case_id == last.c.case_id) & (TransitionLog.seq == last.c.seq)
            )
            for case_id, seq, digest in session.execute(heads):
                lookups.heads[case_id] = (seq, digest)
        session.info[_KEY] = lookups
        return lookups


def _bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (one stream, no per-row statement), a bulk INSERT elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])


_REMINDERS: Table = Reminder.__table__  # type: ignore[assignment]
_CANCEL = (
    update(_REMINDERS)
    .where(
        _REMINDERS.c.case_id == bindparam("b_case"),
        _REMINDERS.c.kind == bindparam("b_kind"),
        _REMINDERS.c.due_date == bindparam("b_due"),
        _REMINDERS.c.status == ReminderStatus.PENDING.value,
    )
    .values(status=ReminderStatus.CANCELLED.value, closed_at=bindparam("b_at"), note=bindparam("b_note"))
)


def write_reminder_changes(
    session: Session, adds: Sequence[dict[str, Any]], cancels: Sequence[dict[str, Any]]
) -> None:
    """Cancel pending reminders (rows keyed b_case, b_kind, b_due, b_at, b_note) and add new ones.

    An added key that already exists, pending, queued or cancelled, is left as it is: a reminder
    is planned once, whatever the replays.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if adds:  # first: a chunk may plan a reminder and cancel it a few events later
        if postgres:  # one statement over arrays: hundreds of rows per chunk
            session.execute(
                _ADD_ARRAYS, _columns(adds, ("case_id", "kind", "due_date", "status", "created_at"))
            )
        else:
            session.execute(_insert_ignoring_duplicates(session, _REMINDERS), list(adds))
    if cancels:
        if postgres:
            session.execute(
                _CANCEL_ARRAYS, _columns(cancels, ("b_case", "b_kind", "b_due", "b_at", "b_note"))
            )
        else:
            session.execute(_CANCEL, list(cancels))


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


_ADD_ARRAYS = text(
    "INSERT INTO reminder (case_id, kind, due_date, status, created_at) "
    "SELECT * FROM unnest(CAST(:case_id AS integer[]), CAST(:kind AS text[]), CAST(:due_date AS date[]), "
    "CAST(:status AS text[]), CAST(:created_at AS timestamptz[])) ON CONFLICT DO NOTHING"
)
_CANCEL_ARRAYS = text(
    "UPDATE reminder SET status = 'cancelled', closed_at = c.closed_at, note = c.note "
    "FROM unnest(CAST(:b_case AS integer[]), CAST(:b_kind AS text[]), CAST(:b_due AS date[]), "
    "CAST(:b_at AS timestamptz[]), CAST(:b_note AS text[])) AS c(case_id, kind, due_date, closed_at, note) "
    "WHERE reminder.case_id = c.case_id AND reminder.kind = c.kind AND reminder.due_date = c.due_date "
    "AND reminder.status = 'pending'"
)


def _insert_ignoring_duplicates(session: Session, table: Table) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no insert-or-ignore for {dialect}")  # the two supported databases
