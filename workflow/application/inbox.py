"""The durable inbox: an event a door accepted is in the database before the sender hears so.

The doors (`POST /api/events`, `events ingest --via celery`, a Celery message sent by name) call
`receive`: each payload is classified once (`domain.duplicates.classify`: rejected with its
reason, a duplicate of an event already applied, or new) and stored as an inbox row in the
door's own transaction.
Only then is the sender answered, and only the row ids travel through the broker. Workers
`drain` rows by id through the one ingestion path, which settles each row (applied, duplicate,
rejected) in the transaction that applies its event. A broker restart, a lost message or a
killed worker therefore costs a sweep's delay (`requeue_stale`, every minute, for rows still
pending SWEEP_AFTER after they were queued), never an event.

A row that a worker took MAX_ATTEMPTS times without settling it (the worker died each time, or
the task failed on something unforeseen) is parked: rejected, with its payload and the reason,
where `events rejected` and `events retry` find it.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import Case, InboxEvent, Person, ProcessedEvent, TransitionLog
from workflow.adapters.repositories import Applied
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.ingest import (
    REASON_LIMIT,
    IngestReport,
    Item,
    bounded,
    ingest_items,
    read_event,
    record_rejection,
)
from workflow.application.ingest import (
    text_field as _text,
)
from workflow.application.service_context import Context
from workflow.domain.duplicates import Classification, classify
from workflow.domain.events import InvalidEvent, OrientationProposed, echo, field_of, storable
from workflow.domain.lifecycle import OPEN_STATES
from workflow.domain.vocabulary import InboxStatus

SWEEP_AFTER = timedelta(minutes=5)  # a queued row not settled by then lost its message: queue it again
MAX_ATTEMPTS = 5  # takings of one row by workers before it is parked as rejected
# A taking within this long of the last counted one is the same delivery seen twice (a broker that
# handed a slow task out again), not a worker that died: it is not counted. A chunk takes seconds.
SAME_TAKING = timedelta(minutes=1)
BATCH = 500  # ids per message: the ingestion's chunk, about a second of worker time


@dataclass(frozen=True)
class Verdict:
    """What a door answers for one payload. A submission received again (a redelivered Celery
    message) answers as the first time: accepted, even if its row has been applied since."""

    position: int
    event_id: str | None
    status: Classification
    reason: str | None
    inbox_id: int | None
    pending: bool  # its row still waits for a worker
    departement: str | None = None  # its route to a worker (`route_keys`)


# Inbox ids by the département that routes them to a worker (None: none known), each list in
# arrival order: what the doors hand to `tasks.events.queue` and `notify`.
Routed = dict[str | None, list[int]]


@dataclass
class Receipt:
    submission: str
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def pending(self) -> list[int]:
        """The rows to hand to the workers, in the order given."""
        return [v.inbox_id for v in self.verdicts if v.pending and v.inbox_id is not None]

    def routed(self, ids: Sequence[int] | None = None) -> Routed:
        """The pending rows (or `ids` among them) by département, in the order given."""
        wanted = None if ids is None else set(ids)
        out: Routed = {}
        for v in self.verdicts:
            if v.pending and v.inbox_id is not None and (wanted is None or v.inbox_id in wanted):
                out.setdefault(v.departement, []).append(v.inbox_id)
        return out

    def count(self) -> Counter[str]:
        return Counter(v.status for v in self.verdicts)


def as_text(value: Any) -> str:
    """A decoded payload (an HTTP body, a Celery argument) as the JSON text the inbox keeps.

    A value that cannot be written back as JSON (nested beyond the interpreter's depth) is kept
    as its cut repr: it is then refused, with a reason, like any line that is not JSON."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, so the parser names the field
        text = json.dumps(value)
    except (RecursionError, ValueError, TypeError):
        text = echo(value)
    return text


def already_applied(session: Session, event_ids: Sequence[str]) -> dict[str, Applied]:
    """What was applied under these event ids: plain rows, not ORM objects (a door's hot path)."""
    query = select(
        ProcessedEvent.event_id, ProcessedEvent.type, ProcessedEvent.payload_sha256,
        ProcessedEvent.applied_at, ProcessedEvent.case_reference,
    ).where(ProcessedEvent.event_id.in_(set(event_ids)))  # fmt: skip
    return {row.event_id: Applied(*row[1:]) for row in session.execute(query)}


def receive(
    uow: UnitOfWork,
    ctx: Context,
    items: Sequence[tuple[str, str]],
    sender: str,
    submission: str | None = None,
) -> Receipt:
    """Store every (where, JSON text) item and commit; return each item's verdict.

    `submission` names what the sender handed over (a Celery task id): receiving it again (a
    redelivered message) stores nothing twice and answers as the first time."""
    receipt = Receipt(submission or uuid.uuid4().hex)
    now = ctx.clock.now()
    with uow:
        session = uow.session
        reads = [(where, raw, read_event(raw)) for where, raw in items]
        seen = already_applied(session, [r.event_id for _, _, r in reads if not isinstance(r, InvalidEvent)])
        departements = route_keys(session, [r for _, _, r in reads], frozenset(ctx.book.codes()))
        rows = []
        rejections: list[tuple[int, dict[str, Any]]] = []
        for position, (where, raw, read) in enumerate(reads):
            before = None if isinstance(read, InvalidEvent) else seen.get(read.event_id)
            status, reason = classify(read, before)
            new = status == Classification.ACCEPTED
            event = None if isinstance(read, InvalidEvent) else read
            event_id = event.event_id if event else _text(read.raw.get("event_id"), 64)  # type: ignore[union-attr]
            rows.append({
                "submission": receipt.submission, "position": position, "sender": sender[:80],
                "source": storable(where[:255]), "event_id": event_id,
                "case_reference": field_of(event, "case_ref"), "departement": departements[position],
                "payload": bounded(raw),
                "status": InboxStatus.PENDING if new else InboxStatus(status),
                "reason": None if reason is None else storable(reason[:REASON_LIMIT]),
                "accepted_at": now, "queued_at": now, "settled_at": None if new else now,
                "attempts": 0,
            })  # fmt: skip
            if status == Classification.REJECTED:
                data = None if event else read.raw  # type: ignore[union-attr]
                rejections.append((position, {"source": where, "raw": raw, "reason": reason or "",
                                              "event": event, "data": data}))  # fmt: skip
        table: Table = InboxEvent.__table__  # type: ignore[assignment]
        kept = (
            table.c.position,
            table.c.id,
            table.c.event_id,
            table.c.status,
            table.c.reason,
            table.c.departement,
        )
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stored = (
            session.execute(dialect.insert(table).on_conflict_do_nothing().returning(*kept), rows).all()
            if rows
            else []
        )
        # A rejection counts once per stored row: a redelivered submission, whose rows are
        # already there, records nothing again (the inbox's rejected rows and the rejections'
        # occurrences add up).
        inserted = {row.position for row in stored}
        for position, rejection in rejections:
            if position in inserted:
                record_rejection(session, ctx, **rejection)
        if len(stored) < len(rows):  # received before: answer from the rows as they stand now
            query = select(*kept).where(table.c.submission == receipt.submission)
            stored = session.execute(query).all()
        for position, row_id, event_id, status, reason, departement in sorted(stored):
            answer = _ANSWERS.get(InboxStatus(status), Classification.ACCEPTED)  # pending, or applied since
            pending = status == InboxStatus.PENDING
            receipt.verdicts.append(Verdict(position, event_id, answer, reason, row_id, pending, departement))
        uow.commit()
    return receipt


def route_keys(session: Session, reads: Sequence[Any], conventions: frozenset[str]) -> list[str | None]:
    """Each event's département, the key that routes it to a worker: its case's convention (or,
    while the case is an orientation waiting in the inbox, that one's), an orientation's
    convention (by default its person's département) if there is such a convention, the open case
    of the person a registration event names. None where nothing says (an unknown case or
    convention, an unreadable event): the default queue carries those, and answers them. At most
    three indexed queries per submission, whatever its size."""
    refs = {r.case_ref for r in reads if field_of(r, "case_ref")}
    people = {r.ft_identifier for r in reads if field_of(r, "ft_identifier")}
    known: dict[str, str] = {}
    for read in reads:
        if isinstance(read, OrientationProposed):
            code = read.convention or read.person.departement
            if code in conventions:  # else no queue's workers would ever answer it: the default one will
                known[read.case_ref] = code
    if refs - known.keys():
        query = select(Case.reference, Case.convention_code).where(Case.reference.in_(refs - known.keys()))
        known.update({ref: code for ref, code in session.execute(query)})
    if refs - known.keys():  # cases whose orientation still waits in the inbox
        waiting = select(InboxEvent.case_reference, InboxEvent.departement).where(
            InboxEvent.case_reference.in_(refs - known.keys()),
            InboxEvent.status == InboxStatus.PENDING,
            InboxEvent.departement.is_not(None),
        )
        known.update({ref: code for ref, code in session.execute(waiting) if ref is not None and code})
    by_person: dict[str, str] = {}
    if people:
        query = (
            select(Person.ft_identifier, Case.convention_code)
            .join(Case, Case.person_id == Person.id)
            .where(Person.ft_identifier.in_(people), Case.state.in_(OPEN_STATES))
        )
        by_person = {ft: code for ft, code in session.execute(query)}
    out: list[str | None] = []
    for read in reads:
        if field_of(read, "case_ref"):
            out.append(known.get(read.case_ref))
        else:
            out.append(by_person.get(field_of(read, "ft_identifier") or ""))
    return out


_ANSWERS = {InboxStatus.DUPLICATE: Classification.DUPLICATE, InboxStatus.REJECTED: Classification.REJECTED}


@dataclass
class DrainReport:
    ingest: IngestReport
    parked: int = 0
    taken: int = 0  # rows taken, applied or not


def drain(uow: UnitOfWork, ctx: Context, ids: Sequence[int], defer_premature: bool) -> DrainReport:
    """Apply the pending rows among `ids`, in id order. Each taking is counted first, in a
    transaction of its own, so that a row whose processing kills the worker is parked after
    MAX_ATTEMPTS instead of killing workers forever."""
    return _take_and_apply(uow, ctx, lambda _: list(ids), defer_premature)


ANY_DEPARTEMENT = "*"  # drain_waiting's default: the waiting rows of every département


def drain_waiting(
    uow: UnitOfWork,
    ctx: Context,
    limit: int,
    defer_premature: bool,
    departement: str | None = ANY_DEPARTEMENT,
) -> DrainReport:
    """Apply the oldest rows that wait for a worker, at most `limit`: the micro-batches of events
    sent one by one. A row another worker took less than SAME_TAKING ago is left to it (on
    PostgreSQL, rows being taken by a concurrent drain are skipped, not waited for).

    `departement` keeps to the rows of one (None: the rows with no département), for workers
    routed by département: a case's events then reach one queue, so two workers of different
    départements never wait for each other's rows."""
    now = ctx.clock.now()
    conditions = [
        InboxEvent.status == InboxStatus.PENDING,
        or_(InboxEvent.claimed_at.is_(None), InboxEvent.claimed_at < now - SAME_TAKING),
    ]
    if departement != ANY_DEPARTEMENT:
        conditions.append(
            InboxEvent.departement.is_(None) if departement is None else InboxEvent.departement == departement
        )
    waiting = (
        select(InboxEvent.id)
        .where(*conditions)
        .order_by(InboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # The ids first, then the taking, in one transaction: as a subquery of the UPDATE, a LIMIT
    # with SKIP LOCKED may be run more than once by PostgreSQL and take more than `limit` rows.
    return _take_and_apply(uow, ctx, lambda session: list(session.scalars(waiting)), defer_premature)


def _take_and_apply(
    uow: UnitOfWork, ctx: Context, which: Callable[[Session], list[int]], defer_premature: bool
) -> DrainReport:
    now = ctx.clock.now()
    new_taking = or_(InboxEvent.claimed_at.is_(None), InboxEvent.claimed_at < now - SAME_TAKING)
    with uow:
        ids = which(uow.session)
        taken = sorted(
            uow.session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(ids), InboxEvent.status == InboxStatus.PENDING)
                .values(
                    attempts=case((new_taking, InboxEvent.attempts + 1), else_=InboxEvent.attempts),
                    claimed_at=case((new_taking, now), else_=InboxEvent.claimed_at),
                )
                .returning(InboxEvent.id, InboxEvent.attempts, InboxEvent.source, InboxEvent.payload)
            )
        )
        uow.commit()
    worn = [row for row in taken if row.attempts > MAX_ATTEMPTS]
    if worn:
        why = f"parked after {MAX_ATTEMPTS} attempts: the worker stopped each time it applied it"
        park(uow, ctx, [row.id for row in worn], why)
    items = [Item(row.source, row.payload, row.id) for row in taken if row.attempts <= MAX_ATTEMPTS]
    report = ingest_items(uow, ctx, items, defer_premature=defer_premature)
    return DrainReport(report, len(worn), len(taken))


def park(uow: UnitOfWork, ctx: Context, ids: Sequence[int], reason: str) -> int:
    """Settle pending rows as rejected with `reason`, their payload kept in the rejections."""
    with uow:
        session = uow.session
        rows = session.scalars(
            select(InboxEvent)
            .where(InboxEvent.id.in_(list(ids)), InboxEvent.status == InboxStatus.PENDING)
            .with_for_update()
        ).all()
        for row in rows:
            record_rejection(session, ctx, source=row.source, raw=row.payload, reason=reason, data={
                "event_id": row.event_id, "case_ref": row.case_reference})  # fmt: skip
            row.status, row.reason, row.settled_at = InboxStatus.REJECTED, reason, ctx.clock.now()
        uow.commit()
        return len(rows)


def requeue_stale(uow: UnitOfWork, ctx: Context, limit: int = 100 * BATCH) -> list[Routed]:
    """The pending rows whose message should have been applied by now, marked queued again and
    returned in batches of one département each, for the caller to queue (oldest first)."""
    now = ctx.clock.now()
    with uow:
        rows = uow.session.execute(
            select(InboxEvent.id, InboxEvent.departement)
            .where(InboxEvent.status == InboxStatus.PENDING, InboxEvent.queued_at < now - SWEEP_AFTER)
            .order_by(InboxEvent.queued_at, InboxEvent.id)
            .limit(limit)
        ).all()
        if rows:
            ids = [row.id for row in rows]
            uow.session.execute(update(InboxEvent).where(InboxEvent.id.in_(ids)).values(queued_at=now))
        uow.commit()
    by_departement: Routed = {}
    for row in sorted(rows):
        by_departement.setdefault(row.departement, []).append(row.id)
    return [
        {departement: ids[i : i + BATCH]}
        for departement, ids in by_departement.items()
        for i in range(0, len(ids), BATCH)
    ]


def statuses(session: Session, submission: str) -> Counter[str]:
    """How the rows of one submission stand (`events ingest --via celery --wait`)."""
    query = (
        select(InboxEvent.status, func.count())
        .where(InboxEvent.submission == submission)
        .group_by(InboxEvent.status)
    )
    return Counter({str(status): count for status, count in session.execute(query)})


@dataclass(frozen=True)
class Backlog:
    pending: int
    stale: int  # pending longer than SWEEP_AFTER since queued: their message was lost or is stuck
    oldest: datetime | None
    retried: int  # pending rows a worker already took and did not settle


def backlog(session: Session, now: datetime) -> Backlog:
    pending = InboxEvent.status == InboxStatus.PENDING
    count, oldest = session.execute(
        select(func.count(), func.min(InboxEvent.accepted_at)).where(pending)
    ).one()
    stale = session.scalar(select(func.count()).where(pending, InboxEvent.queued_at < now - SWEEP_AFTER))
    retried = session.scalar(select(func.count()).where(pending, InboxEvent.attempts > 0))
    return Backlog(count or 0, stale or 0, oldest, retried or 0)


@dataclass(frozen=True)
class InboxTrace:
    """What became of one event, for its sender (`GET /api/events/{event_id}`)."""

    event_id: str
    status: str
    accepted_at: datetime
    settled_at: datetime | None
    reason: str | None
    case_reference: str | None = None
    state: str | None = None  # the case's state after the event (applied events)


def whereabouts(session: Session, sender: str, event_id: str) -> InboxTrace | None:
    """The latest event `sender` posted under `event_id`; None when this sender never did."""
    row = session.scalar(
        select(InboxEvent)
        .where(InboxEvent.sender == sender, InboxEvent.event_id == event_id)
        .order_by(InboxEvent.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    found = InboxTrace(event_id, row.status, row.accepted_at, row.settled_at, row.reason)
    if row.status != InboxStatus.APPLIED:
        return found
    applied = session.get(ProcessedEvent, event_id)
    reference = applied.case_reference if applied else row.case_reference
    if reference is None:
        return found
    state = session.scalar(
        select(TransitionLog.to_state)
        .where(TransitionLog.case_reference == reference, TransitionLog.event_id == event_id)
        .order_by(TransitionLog.seq.desc())
        .limit(1)
    ) or session.scalar(select(Case.state).where(Case.reference == reference))
    return InboxTrace(event_id, row.status, row.accepted_at, row.settled_at, None, reference, state)
