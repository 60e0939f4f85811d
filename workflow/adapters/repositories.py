"""Storage access for the event handlers: one interface, two ways of talking to the database.

Handlers read and write through the unit of work's repositories (`uow.cases`, `uow.people`,
`uow.appointments`, `uow.log`, `uow.processed`, `uow.professionals`) and never ask how. The caller chooses:

- `RowByRow`: every read is a query and every write goes to the session at once. For one
  event, a revue's decisions, and the fallback of a chunk whose fast pass failed (each event in
  a savepoint of its own: a rollback there must not leave a memory out of step).
- `ChunkBuffered`: the rows a chunk of events needs are fetched in a handful of queries before
  the first event (cases locked FOR UPDATE, in id order, so two workers lock in the same order),
  reads are answered from that memory, and the append-only rows (log, processed events) are
  buffered and written in bulk at commit (COPY on PostgreSQL). Fetched one by
  one, an event costs five or six round trips; buffered, a chunk of 500 costs about ten.

Both give the same tables: `tests/integration/test_write_paths.py` runs one stream through each
and compares every row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.orm import Session

from models import Appointment, Case, Person, ProcessedEvent, Professional, TransitionLog
from workflow.domain.events import field_of
from workflow.domain.lifecycle import OPEN_STATES

# Events whose guards read the person (registration, status): their persons are prefetched with
# the cases; for the others a case's person is loaded only if something asks for it.
_NEEDS_PERSON = frozenset({"diagnostic_done", "contract_signed", "exit_decided"})


@dataclass(frozen=True)
class Applied:
    """What the duplicate check needs of a processed event, without an ORM object."""

    type: str
    payload_sha256: str
    applied_at: datetime
    case_reference: str | None


# --- row by row ---------------------------------------------------------------------------------


class Cases:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, reference: str) -> Case | None:
        """The case, locked until commit on PostgreSQL: two workers applying events of the same
        case serialize here (SQLite allows one writer at a time anyway)."""
        return self.session.scalar(select(Case).where(Case.reference == reference).with_for_update(of=Case))

    def exists(self, reference: str) -> bool:
        return self.session.scalar(select(Case.id).where(Case.reference == reference)) is not None

    def open_of(self, person_id: int) -> Case | None:
        """The person's open case (at most one), locked."""
        query = select(Case).where(Case.person_id == person_id, Case.state.in_(OPEN_STATES))
        return self.session.scalar(query.with_for_update(of=Case))

    def referent_social_in_agency(self, agence: str, professional_id: str) -> bool:
        """Whether the professional is the référent social of an open case of the agency."""
        query = select(Case.id).where(
            Case.agence == agence, Case.referent_social_id == professional_id, Case.state.in_(OPEN_STATES)
        )
        return self.session.scalar(query.limit(1)) is not None

    def add(self, case: Case) -> None:
        self.session.add(case)
        self.session.flush()  # the log row needs the case's id


class People:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, ft_identifier: str) -> Person | None:
        return self.session.scalar(select(Person).where(Person.ft_identifier == ft_identifier))

    def by_id(self, person_id: int) -> Person:
        return self.session.get_one(Person, person_id)

    def add(self, person: Person) -> None:
        self.session.add(person)


class Appointments:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, external_id: str) -> Appointment | None:
        return self.session.scalar(select(Appointment).where(Appointment.external_id == external_id))

    def add(self, appointment: Appointment) -> None:
        self.session.add(appointment)


class Log:
    """The transition log's new rows (the chain's head is on the case row)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, fields: dict[str, Any]) -> None:
        self.session.add(TransitionLog(**fields))


class Processed:
    """The processed-event table: what makes applying an event idempotent."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, event_id: str) -> Applied | None:
        row = self.session.get(ProcessedEvent, event_id, populate_existing=True)
        if row is None:
            return None
        return Applied(row.type, row.payload_sha256, row.applied_at, row.case_reference)

    def add(self, row: dict[str, Any]) -> None:
        self.session.add(ProcessedEvent(**row))


class Professionals:
    """The directory, as the session first saw each professional: one ingestion run or one
    batch sees the directory as it was when it first needed each professional (the identity
    map holds objects weakly, so without this a professional would be fetched for every event)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._known: dict[str, Professional | None] = {}

    def get(self, pid: str) -> Professional | None:
        if pid not in self._known:
            # The event path never writes the directory: no need to flush the chunk's pending
            # case rows before reading it (an autoflush per professional cost a third of the
            # demo's ingestion).
            with self.session.no_autoflush:
                self._known[pid] = self.session.get(Professional, pid)
        return self._known[pid]

    def load(self, pids: Iterable[str]) -> None:
        """Read the professionals a chunk of events names, in one query. Nothing is remembered
        until the query has answered: a read cut short (the connection lost) must not leave the
        chunk's professionals known as absent, which the chunk's redo would take for "not in the
        directory", a final refusal of their events."""
        wanted = set(pids) - self._known.keys()
        if not wanted:
            return
        with self.session.no_autoflush:
            found = {
                p.id: p for p in self.session.scalars(select(Professional).where(Professional.id.in_(wanted)))
            }
        self._known.update({pid: found.get(pid) for pid in wanted})


def named_professionals(events: Iterable[Any]) -> set[str]:
    """The directory ids a chunk of events names: actors, binôme and appointment holders."""
    out: set[str] = set()
    for event in events:
        actor = field_of(event, "actor")
        if actor is not None:
            out.add(actor.id)
        for name in ("conseiller_id", "referent_social_id", "professional_id"):
            if value := field_of(event, name):
                out.add(value)
    return out


class RowByRow:
    """Every read a query, every write to the session at once."""

    def __init__(self, session: Session) -> None:
        self.cases = Cases(session)
        self.people = People(session)
        self.appointments = Appointments(session)
        self.log = Log(session)
        self.processed = Processed(session)

    def write(self) -> None:
        """Nothing waits: every row already went to the session."""


# --- buffered per chunk -------------------------------------------------------------------------


class _BufferedCases(Cases):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.known: dict[str, Case | None] = {}

    def get(self, reference: str) -> Case | None:
        if reference in self.known:
            return self.known[reference]
        return super().get(reference)

    def exists(self, reference: str) -> bool:
        if reference in self.known:
            return self.known[reference] is not None
        return super().exists(reference)

    def add(self, case: Case) -> None:
        super().add(case)
        self.known[case.reference] = case


class _BufferedPeople(People):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.known: dict[str, Person | None] = {}

    def get(self, ft_identifier: str) -> Person | None:
        if ft_identifier in self.known:
            return self.known[ft_identifier]
        return super().get(ft_identifier)

    def add(self, person: Person) -> None:
        super().add(person)
        self.known[person.ft_identifier] = person


class _BufferedAppointments(Appointments):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.known: dict[str, Appointment | None] = {}

    def get(self, external_id: str) -> Appointment | None:
        if external_id in self.known:
            return self.known[external_id]
        return super().get(external_id)

    def add(self, appointment: Appointment) -> None:
        super().add(appointment)
        self.known[appointment.external_id] = appointment


class _BufferedLog(Log):
    """Rows wait for the commit: the ORM would insert them one by one to fetch each new id,
    which nothing in a chunk needs."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.rows: list[dict[str, Any]] = []

    def add(self, fields: dict[str, Any]) -> None:
        self.rows.append(fields)


class _BufferedProcessed(Processed):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.known: dict[str, Applied | None] = {}
        self.rows: list[dict[str, Any]] = []

    def get(self, event_id: str) -> Applied | None:
        if event_id in self.known:
            return self.known[event_id]
        return super().get(event_id)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.known[row["event_id"]] = Applied(row["type"], row["payload_sha256"], row["applied_at"],
                                              row["case_reference"])  # fmt: skip


class ChunkBuffered:
    """Prefetched reads and bulk writes for one chunk of events, in one transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.log = _BufferedLog(session)
        self.cases = _BufferedCases(session)
        self.people = _BufferedPeople(session)
        self.appointments = _BufferedAppointments(session)
        self.processed = _BufferedProcessed(session)

    @classmethod
    def prefetch(cls, session: Session, events: Iterable[Any]) -> ChunkBuffered:
        """Fetch what `events` will need, in a handful of queries."""
        store = cls(session)
        events = list(events)
        ids = [e.event_id for e in events]
        refs = sorted({e.case_ref for e in events if field_of(e, "case_ref")})
        people = {e.ft_identifier for e in events if field_of(e, "ft_identifier")}
        people |= {e.person.ft_identifier for e in events if field_of(e, "person")}
        rdv = {e.appointment_id for e in events if field_of(e, "appointment_id")}

        store.processed.known = dict.fromkeys(ids)
        seen = select(
            ProcessedEvent.event_id, ProcessedEvent.type, ProcessedEvent.payload_sha256,
            ProcessedEvent.applied_at, ProcessedEvent.case_reference,
        ).where(ProcessedEvent.event_id.in_(ids))  # fmt: skip
        for event_id, kind, digest, applied_at, reference in session.execute(seen):
            store.processed.known[event_id] = Applied(kind, digest, applied_at, reference)
        cases = store.cases.known = dict.fromkeys(refs)
        if refs:
            query = select(Case).where(Case.reference.in_(refs)).order_by(Case.id).with_for_update()
            for case in session.scalars(query):
                cases[case.reference] = case
        wanted = {e.case_ref for e in events if e.type in _NEEDS_PERSON}
        person_ids = {c.person_id for ref, c in cases.items() if c is not None and ref in wanted}
        store.people.known = dict.fromkeys(people)
        if people or person_ids:
            persons = select(Person).where(Person.ft_identifier.in_(people) | Person.id.in_(person_ids))
            for person in session.scalars(persons):
                store.people.known[person.ft_identifier] = person  # also keeps it in the identity map
        store.appointments.known = dict.fromkeys(rdv)
        if rdv:
            for appointment in session.scalars(select(Appointment).where(Appointment.external_id.in_(rdv))):
                store.appointments.known[appointment.external_id] = appointment
        return store

    def write(self) -> None:
        """Write the chunk's buffered rows (called by the unit of work before it commits)."""
        for table, rows in (
            (TransitionLog.__table__, self.log.rows),
            (ProcessedEvent.__table__, self.processed.rows),
        ):
            if rows:
                _bulk_insert(self.session, table, rows)  # type: ignore[arg-type]
        self.log.rows, self.processed.rows = [], []


Storage = RowByRow | ChunkBuffered


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
