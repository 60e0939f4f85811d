"""The durable inbox: an event a door accepted is in the database before the sender hears so,
and one person's events are applied in the order they were accepted.

The doors (`POST /api/events`, `events ingest --via celery`, a Celery message sent by name) call
`receive`: each payload is classified once (`domain.duplicates.classify`: rejected with its
reason, a duplicate of an event already applied or still waiting, or new) and stored as an
inbox row in the door's own transaction, with its person's order key. Only then is the sender
answered, and the workers woken. A worker, whatever woke it, takes the rows that may be applied
now (`InboxRows.take`: a person's rows from the first one still to try, a person one worker at a time)
and applies them through the one ingestion path, which settles each row (applied, duplicate,
rejected) in the transaction that applies its event, or defers a premature one to a later try
kept in the row (`not_before`). The order is the database's, not the broker's: it holds
whatever the number of workers, the prefetch, or the order in which messages arrive. A broker
restart, a lost message or a killed worker costs at most a minute (`requeue_stale`, the
scheduler's sweep), never an event nor its place.

A row that a worker took MAX_ATTEMPTS times without settling it (the worker died each time, or
the task failed on something unforeseen) is parked: rejected, with its payload and the reason,
where `events rejected` and `events retry` find it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Case, InboxEvent, ProcessedEvent, TransitionLog
from workflow.adapters.inbox_rows import InboxRows, stranded
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.ingest import (
    REASON_LIMIT,
    UNREADABLE,
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
from workflow.domain.duplicates import AppliedBefore, Classification, InFlight, classify
from workflow.domain.errors import Forbidden
from workflow.domain.events import (
    Event,
    InvalidEvent,
    OrientationProposed,
    echo,
    field_of,
    payload_digest,
    storable,
)
from workflow.domain.vocabulary import InboxStatus

log = logging.getLogger(__name__)

# A worker's claim on the rows it took: another worker leaves them, and their person, alone that
# long. A chunk takes seconds; a worker that died frees its persons when its claim runs out.
LEASE = timedelta(seconds=30)
# A row no worker took this long after its wake-up was sent lost its message (a broker restart):
# the sweep (every SWEEP_EVERY) sends another. Both together keep a lost row within a minute.
STALE = timedelta(seconds=30)
SWEEP_EVERY = timedelta(seconds=10)
MAX_ATTEMPTS = 5  # takings of one row by workers before it is parked as rejected
MAX_DEFERRALS = 4  # a premature event is tried again after 2, 4, 8, 16 s, then rejected
BATCH = 500  # rows a worker takes at once: the ingestion's chunk, about a second of worker time
# How a parked row's reason begins, and how it began before the reasons were written in French.
PARKED, FORMERLY_PARKED = "mis de côté après", "parked after"


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
    departement: str | None = None  # the queue of the workers to wake for it (`route_keys`)


# Inbox ids by the département whose workers are to be woken for them (None: none known), each
# list in arrival order: what the doors hand to `tasks.events.queue` and `notify`.
Routed = dict[str | None, list[int]]


@dataclass
class Receipt:
    submission: str
    verdicts: list[Verdict] = field(default_factory=list)
    # The rows stored by this call, by (status, type): pending, or settled at the door (the
    # door's metrics; a redelivered submission stores nothing again, so counts nothing).
    stored: Counter[tuple[str, str]] = field(default_factory=Counter)

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


def in_flight(inbox: InboxRows, event_ids: set[str]) -> dict[str, InFlight]:
    """The first copies of these events still waiting in the inbox, by event id."""
    found: dict[str, InFlight] = {}
    for event_id, payload, accepted_at in inbox.waiting(event_ids):
        if event_id is not None and not isinstance(first := read_event(payload), InvalidEvent):
            found[event_id] = InFlight(first.type, payload_digest(first), accepted_at)
    return found


@dataclass(frozen=True)
class Parcel:
    """What one sender hands over at once (a request, a message): its (where, JSON text) items,
    the sender's name, and `refuse`, which tells of a valid event the sender may not send."""

    items: Sequence[tuple[str, str]]
    sender: str
    refuse: Callable[[Event], Forbidden | None] | None = None


def receive(
    uow: UnitOfWork,
    ctx: Context,
    items: Sequence[tuple[str, str]],
    sender: str,
    submission: str | None = None,
    refuse: Callable[[Event], Forbidden | None] | None = None,
) -> Receipt:
    """Store every (where, JSON text) item and commit; return each item's verdict.

    `submission` names what the sender handed over (a Celery task id): receiving it again (a
    redelivered message) stores nothing twice and answers as the first time. Each row gets its
    person's order key (`route_keys`) in this transaction, so its place in the person's line is
    its id, the order in which it was accepted. `refuse` tells of a valid event the sender may
    not send (the HTTP door: an actor of another partner): it is rejected, and the refusal kept
    (`access_denial`)."""
    [receipt] = receive_together(uow, ctx, [Parcel(items, sender, refuse)], submission)
    return receipt


def receive_together(
    uow: UnitOfWork, ctx: Context, parcels: Sequence[Parcel], submission: str | None = None
) -> list[Receipt]:
    """`receive` for several parcels in one transaction (the HTTP door's group commit: the
    requests that arrived while the last commit was under way): one lookup of what was applied,
    one routing read, one insert and one commit for all, and each parcel answered as if it had
    come alone after the ones before it (an event id sent twice across them is a duplicate, as
    it would be one request later). Their rows share one submission, numbered across the
    parcels in the order given, which is their order in their persons' lines."""
    submission = submission or uuid.uuid4().hex
    now = ctx.clock.now()
    entries = [(parcel, where, raw) for parcel in parcels for where, raw in parcel.items]
    with uow:
        reads = [(where, raw, read_event(raw)) for _, where, raw in entries]
        events = [r for _, _, r in reads if not isinstance(r, InvalidEvent)]
        seen: dict[str, AppliedBefore | InFlight] = {**uow.inbox.applied(e.event_id for e in events)}
        here: dict[str, Event] = {}  # the first copy of each event in this submission
        keys = route_keys(uow.inbox, [r for _, _, r in reads], frozenset(ctx.book.codes()))
        rows: list[dict[str, Any]] = []
        rejections: dict[int, dict[str, Any]] = {}
        refusals: dict[int, Forbidden] = {}
        for position, ((parcel, _, _), (where, raw, read)) in enumerate(zip(entries, reads, strict=True)):
            refuse = parcel.refuse
            refused = None if refuse is None or isinstance(read, InvalidEvent) else refuse(read)
            if refused is not None:
                refusals[position] = refused
            before = None if isinstance(read, InvalidEvent) else seen.get(read.event_id)
            if before is None and not isinstance(read, InvalidEvent) and read.event_id in here:
                copied = here[read.event_id]  # a second copy in one submission (its digest only then)
                before = InFlight(copied.type, payload_digest(copied), now)
            row, rejection = _row(
                submission, position, parcel.sender, where, raw, read, before, keys[position], now,
                None if refused is None else refused.reason,
            )  # fmt: skip
            if row["status"] == InboxStatus.PENDING and not isinstance(read, InvalidEvent):
                here[read.event_id] = read
            rows.append(row)
            if rejection is not None:
                rejections[position] = rejection
        stored = uow.inbox.insert(rows)
        if len(stored) < len(rows):
            # Not stored: a redelivered submission's rows (there already), or copies of events
            # whose first copy waits in the inbox (the unique index on pending event ids refused
            # them): those are stored as duplicates, or rejected when the content differs.
            there = uow.inbox.positions(submission)
            copies = [p for p in range(len(rows)) if p not in there]
            first = in_flight(uow.inbox, {rows[p]["event_id"] for p in copies})
            again = []
            for p in copies:
                where, raw, read = reads[p]
                row, rejection = _row(submission, p, entries[p][0].sender, where, raw, read,
                                      first.get(rows[p]["event_id"]), keys[p], now,
                                      refusals[p].reason if p in refusals else None)  # fmt: skip
                again.append(row)
                if rejection is not None:
                    rejections[p] = rejection
            stored = [*stored, *uow.inbox.insert(again)]
        _record(uow, ctx, stored, rows, rejections, refusals)
        receipts = _receipts(uow.inbox, submission, parcels, reads, stored, len(rows))
        uow.commit()
    return receipts


def _receipts(
    inbox: InboxRows, submission: str, parcels: Sequence[Parcel], reads: list[tuple[str, str, Any]],
    stored: list[Any], sent: int,
) -> list[Receipt]:  # fmt: skip
    """Each parcel's receipt, its positions counted from its own first item. A submission
    received before (fewer rows stored than `sent`) is answered from its rows as they stand."""
    receipts = [Receipt(submission) for _ in parcels]
    owner: list[tuple[Receipt, int]] = []
    for receipt, parcel in zip(receipts, parcels, strict=True):
        owner.extend((receipt, index) for index in range(len(parcel.items)))
    for row in stored:
        read = reads[row.position][2]
        kind = UNREADABLE if isinstance(read, InvalidEvent) else read.type
        owner[row.position][0].stored[(row.status, kind)] += 1
    for position, row_id, event_id, status, reason, departement in sorted(
        stored if len(stored) == sent else inbox.kept(submission)
    ):
        answer = _ANSWERS.get(InboxStatus(status), Classification.ACCEPTED)  # pending, or applied since
        pending = status == InboxStatus.PENDING
        receipt, index = owner[position]
        receipt.verdicts.append(Verdict(index, event_id, answer, reason, row_id, pending, departement))
    return receipts


def _record(
    uow: UnitOfWork, ctx: Context, stored: list[Any], rows: list[dict[str, Any]],
    rejections: dict[int, dict[str, Any]], refusals: dict[int, Forbidden],
) -> None:  # fmt: skip
    """Record the rejections and refusals of the rows stored now. A rejection counts once per
    stored row: a redelivered submission, whose rows are already there, records nothing again
    (the inbox's rejected rows and the rejections' occurrences add up)."""
    for row in stored:
        if row.position in rejections:
            record_rejection(uow, ctx, **rejections[row.position])
        if row.position in refusals:
            uow.access_denials.add(refusals[row.position], rows[row.position]["accepted_at"],
                                   rows[row.position]["case_reference"])  # fmt: skip


def _row(
    submission: str, position: int, sender: str, where: str, raw: str, read: Event | InvalidEvent,
    before: AppliedBefore | InFlight | None, keys: Keys, now: datetime, refused: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:  # fmt: skip
    """The inbox row of one payload, classified against what came `before` under its event id
    (or `refused` with that reason), and its rejection (to record once the row is stored), if
    rejected."""
    status, reason = (Classification.REJECTED, refused) if refused else classify(read, before)
    new = status == Classification.ACCEPTED
    event = None if isinstance(read, InvalidEvent) else read
    event_id = event.event_id if event else _text(read.raw.get("event_id"), 64)  # type: ignore[union-attr]
    row = {
        "submission": submission, "position": position, "sender": sender[:80],
        "source": storable(where[:255]), "event_id": event_id,
        "case_reference": field_of(event, "case_ref"), "departement": keys.departement,
        "person_key": keys.person, "payload": bounded(raw),
        "status": InboxStatus.PENDING if new else InboxStatus(status),
        "reason": None if reason is None else storable(reason[:REASON_LIMIT]),
        "accepted_at": now, "queued_at": now, "settled_at": None if new else now,
        "attempts": 0, "deferrals": 0,
    }  # fmt: skip
    if status != Classification.REJECTED:
        return row, None
    data = None if event else read.raw  # type: ignore[union-attr]
    return row, {"source": where, "raw": raw, "reason": reason or "", "event": event, "data": data}


@dataclass(frozen=True)
class Keys:
    """Where an inbox row goes: its département's queue (None: the default one) and its person's
    line (the order key: one person's rows are applied in id order)."""

    departement: str | None
    person: str | None


CASE_KEY = "dossier:"  # the order key of an event whose case's person is not known yet


def route_keys(inbox: InboxRows, reads: Sequence[Any], conventions: frozenset[str]) -> list[Keys]:
    """Each event's keys. The département: its case's convention (or, while the case is an
    orientation waiting in the inbox, that one's), an orientation's convention (by default its
    person's département) if there is such a convention, the open case (or the orientation) of
    the person a registration event names; None where nothing says (an unknown case or
    convention, an unreadable event): the default queue carries those, and answers them. The
    person: an orientation's France Travail identifier, the person of the case named (from the
    case row, an orientation earlier in the submission or one waiting in the inbox), the
    identifier a registration event names; "dossier:<ref>" for a case not known yet (it waits,
    then is rejected, on a line of its own). Two indexed queries per submission at most."""
    route: dict[str, str] = {}
    person: dict[str, str] = {}
    for read in reads:
        if isinstance(read, OrientationProposed):
            person.setdefault(read.case_ref, read.person.ft_identifier)
            code = read.convention or read.person.departement
            if code in conventions:  # else no queue's workers would ever answer it: the default one will
                route.setdefault(read.case_ref, code)
    _cases(inbox, {r.case_ref for r in reads if field_of(r, "case_ref")}, person, route)
    by_person = _people(inbox, {r.ft_identifier for r in reads if field_of(r, "ft_identifier")}, reads, route)
    out: list[Keys] = []
    for read in reads:
        if isinstance(read, InvalidEvent):
            out.append(Keys(None, None))
        elif field_of(read, "case_ref"):
            ref = read.case_ref
            out.append(Keys(route.get(ref), person.get(ref, f"{CASE_KEY}{ref}")[:80]))
        else:
            ft = field_of(read, "ft_identifier") or ""
            out.append(Keys(by_person.get(ft), ft or None))
    return out


def _cases(inbox: InboxRows, refs: set[str], person: dict[str, str], route: dict[str, str]) -> None:
    """Fill in the person and route of the cases named that the submission does not open: from
    the case rows, else from their orientations still waiting in the inbox, read in one
    statement (one snapshot: `InboxRows.case_lines`). Two statements could fall between a worker's
    commit that creates the case and settles its orientation's row, seeing neither; the event
    would then take a line of its own ("dossier:<ref>") beside its person's, and could be applied
    before an earlier one."""
    unknown = refs - person.keys()
    if not unknown:
        return
    for ref, code, key, _ in inbox.case_lines(unknown, CASE_KEY):
        if ref is not None and key is not None and ref not in person:  # a case row comes first
            person[ref] = key
            if code is not None:
                route.setdefault(ref, code)


def _people(
    inbox: InboxRows, people: set[str], reads: Sequence[Any], route: dict[str, str]
) -> dict[str, str]:
    """The route of each person a registration event names: their open case's convention, else
    their orientation's, in the submission or waiting in the inbox (one statement, one snapshot,
    as in `_cases`)."""
    if not people:
        return {}
    rows = inbox.person_routes(people)
    by_person = {ft: code for ft, code, rank in rows if rank == 0}
    for read in reads:
        if isinstance(read, OrientationProposed) and read.case_ref in route:
            by_person.setdefault(read.person.ft_identifier, route[read.case_ref])
    for key, code, rank in rows:
        if rank == 1 and key is not None and code is not None:
            by_person.setdefault(key, code)
    return by_person


_ANSWERS = {InboxStatus.DUPLICATE: Classification.DUPLICATE, InboxStatus.REJECTED: Classification.REJECTED}


@dataclass
class DrainReport:
    ingest: IngestReport
    parked: int = 0
    taken: int = 0  # rows taken, applied or not


ANY_DEPARTEMENT = "*"  # drain_waiting's default: the waiting rows of every département


def drain_waiting(
    uow: UnitOfWork,
    ctx: Context,
    limit: int,
    defer: bool,
    departement: str | None = ANY_DEPARTEMENT,
) -> DrainReport:
    """Take at most `limit` rows that may be applied now (`InboxRows.take`) and apply them, in id order:
    what every worker task does, whatever woke it. Each taking is counted first, in a
    transaction of its own, so that a row whose processing kills the worker is parked after
    MAX_ATTEMPTS instead of killing workers forever.

    `defer`: a premature event stays pending for a later try (MAX_DEFERRALS at most) instead of
    being rejected at once; a caller with no sweep to come back (the in-process default) says no.
    `departement` keeps to the rows of one (None: the rows with no département), for workers
    routed by département."""
    now = ctx.clock.now()
    with uow:
        uow.take_write_lock()  # SQLite: the choice and the claim as one writer
        taken = uow.inbox.take(now, limit, LEASE, departement, departement == ANY_DEPARTEMENT)
        uow.commit()
    worn = [row for row in taken if row.attempts > MAX_ATTEMPTS]
    if worn:
        why = f"{PARKED} {MAX_ATTEMPTS} prises : le worker s'est arrêté à chaque fois qu'il l'appliquait"
        park(uow, ctx, [row.id for row in worn], why)
    items = [
        Item(row.source, row.payload, row.id, row.deferrals, defer and row.deferrals < MAX_DEFERRALS,
             row.sender, row.accepted_at)
        for row in taken
        if row.attempts <= MAX_ATTEMPTS
    ]  # fmt: skip
    try:
        report = ingest_items(uow, ctx, items)
    except Exception:
        release(uow, [item.inbox_id for item in items if item.inbox_id is not None])
        raise
    return DrainReport(report, len(worn), len(taken))


def release(uow: UnitOfWork, ids: Sequence[int]) -> None:
    """Give back the claim on rows a worker took and could not settle (the database went away,
    a deadlock), so that its retry, or another worker, takes them now rather than after LEASE;
    their takings stay counted. If even this fails, the lease frees them."""
    try:
        with uow:
            uow.inbox.release(ids)
            uow.commit()
    except Exception as exc:
        log.warning(
            "la prise de %d ligne(s) de la boîte d'entrée attend la fin de son bail (%s)",
            len(ids),
            type(exc).__name__,
        )


def park(uow: UnitOfWork, ctx: Context, ids: Sequence[int], reason: str) -> int:
    """Settle pending rows as rejected with `reason`, their payload kept in the rejections."""
    with uow:
        rows = uow.inbox.park(ids, reason, ctx.clock.now())
        for row in rows:
            record_rejection(uow, ctx, source=row.source, raw=row.payload, reason=reason, data={
                "event_id": row.event_id, "case_ref": row.case_reference})  # fmt: skip
        uow.commit()
        return len(rows)


def requeue_stale(uow: UnitOfWork, ctx: Context, limit: int = 100 * BATCH) -> Routed:
    """The stranded rows (`inbox_rows.stranded`: no worker holds them, no wake-up sent since
    STALE), marked queued again and returned by département, oldest first, for the caller to wake
    workers for: the scheduler's sweep, every SWEEP_EVERY."""
    now = ctx.clock.now()
    with uow:
        uow.take_write_lock()  # SQLite: one writer; PostgreSQL: rows a worker holds are skipped
        rows = uow.inbox.requeue(now, limit, LEASE, STALE)
        uow.commit()
    by_departement: Routed = {}
    for row in rows:
        by_departement.setdefault(row.departement, []).append(row.id)
    return by_departement


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
    oldest: datetime | None
    deferred: int  # premature events waiting for their next try
    held: int  # taken by a worker that has not settled them yet (within LEASE)
    stranded: int  # could be applied now, no worker holds them, no wake-up sent since STALE
    retried: int  # pending rows a worker already took at least once and did not settle
    parked: int  # rows rejected after MAX_ATTEMPTS takings (`events rejected`)


def backlog(session: Session, now: datetime) -> Backlog:
    pending = InboxEvent.status == InboxStatus.PENDING

    def count(*where: Any) -> int:
        return session.scalar(select(func.count()).select_from(InboxEvent).where(*where)) or 0

    total, oldest = session.execute(
        select(func.count(), func.min(InboxEvent.accepted_at)).where(pending)
    ).one()
    return Backlog(
        pending=total or 0,
        oldest=oldest,
        deferred=count(pending, InboxEvent.not_before > now),
        held=count(pending, InboxEvent.claimed_at >= now - LEASE),
        stranded=count(stranded(now, LEASE, STALE)),
        retried=count(pending, InboxEvent.attempts > 0, InboxEvent.claimed_at < now - LEASE),
        parked=count(
            InboxEvent.status == InboxStatus.REJECTED,
            or_(InboxEvent.reason.like(f"{PARKED}%"), InboxEvent.reason.like(f"{FORMERLY_PARKED}%")),
        ),
    )


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
