"""Apply a stream of events: good ones land, bad ones are recorded and reported.

Events go by chunks of CHUNK, one transaction each, so a file of 100 000 events does not pay
100 000 commits, a refused event never leaves half a case behind, and a crash loses at most the
uncommitted chunk (replaying the file then reports the committed events as duplicates). How a
chunk is applied, fast path first and savepoints as the fallback, is told in `ingest_items`.

Whatever the bytes, every item ends applied, duplicate or rejected with a reason (or deferred,
for a caller that asked): a line that cannot be parsed, an event whose handler fails, even a
rejection that cannot be stored as it came, never costs the other events of the chunk. Only a
fault of the database itself (it went away, a deadlock) stops the run, for the caller to retry.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workflow.adapters.transient import is_transient
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.handling import Handled, HandledAs, handle_event, handle_in_savepoint
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.errors import (
    ConcurrentUpdate,
    Forbidden,
    NotFound,
    WorkflowError,
)
from workflow.domain.events import MAX_EVENT_BYTES, Event, InvalidEvent, echo, parse_line, storable
from workflow.domain.vocabulary import InboxStatus

log = logging.getLogger(__name__)

CHUNK = 500  # events per commit: ~1 s of SQLite work, bounded loss on crash
REPORTED = 20  # rejections kept in memory for the report; the table has them all
REASON_LIMIT = 2_000  # characters of a stored reason; values quoted in it are cut shorter (ECHO)
# A file is read as UTF-8, a leading byte order mark dropped (as the HTTP door does), and bytes
# that are not UTF-8 kept as lone surrogates, for `parse_line` to refuse line by line.
FILE_ENCODING = "utf-8-sig"
DEFERRAL_DELAY = timedelta(seconds=2)  # a premature event's first wait; doubled at each deferral
UNREADABLE = "illisible"  # the type counted for an event that could not be read


@dataclass(frozen=True)
class Item:
    """One event to apply: its JSON text, where it came from (for reports), and its inbox row
    when a door stored it first (the row is then settled in the same transaction).

    `may_defer`: refused as premature, the row stays pending for a later try (`deferrals` counts
    the earlier ones) instead of being rejected; only inbox rows a worker takes may be."""

    where: str
    raw: str
    inbox_id: int | None = None
    deferrals: int = 0
    may_defer: bool = False
    sender: str = "cli"  # the inbox row's sender ("http:<system>", "celery:<source>", "cli")
    accepted_at: datetime | None = None  # when its door accepted it


@dataclass(frozen=True)
class Rejection:
    source: str
    event_id: str | None
    reason: str

    def __str__(self) -> str:
        ident = f" [{self.event_id}]" if self.event_id else ""
        return f"{self.source}{ident} : {self.reason}"


@dataclass
class IngestReport:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred_items: list[Item] = field(default_factory=list)  # premature: pending, tried again later
    settled_elsewhere: int = 0  # inbox rows another worker settled first: not counted above
    blank: int = 0  # blank lines of a file: no event, counted apart from the total
    by_type: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first REPORTED ones
    # The inbox rows settled, by (sender, outcome, type), and the seconds from their acceptance
    # to their application (the workers' metrics).
    settled: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)

    @property
    def deferred(self) -> int:
        return len(self.deferred_items)

    @property
    def total(self) -> int:
        return self.applied + self.duplicates + self.rejected + self.deferred

    def merge(self, other: IngestReport) -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.settled_elsewhere += other.settled_elsewhere
        self.blank += other.blank
        self.by_type.update(other.by_type)
        self.settled.update(other.settled)
        self.delays.extend(other.delays)
        self.deferred_items.extend(other.deferred_items)
        self.rejections.extend(other.rejections[: max(0, REPORTED - len(self.rejections))])

    def summary(self) -> str:
        deferred = f", {self.deferred} différé(s) (réessayé(s) sous peu)" if self.deferred else ""
        return (
            f"{self.total} événement(s) : {self.applied} appliqué(s), {self.duplicates} doublon(s) "
            f"(déjà appliqué(s), rien n'a changé), {self.rejected} rejeté(s)"
            f"{deferred}{blank_lines(self.blank)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "deferred": self.deferred,
            "settled_elsewhere": self.settled_elsewhere,
            "blank": self.blank,
            "rejections": [str(r) for r in self.rejections],
        }


def bounded(raw: str) -> str:
    """The raw text as stored: storable (see `events.storable`) and at most MAX_EVENT_BYTES."""
    text = raw.rstrip("\n")
    if len(text) > MAX_EVENT_BYTES:
        text = f"{text[:MAX_EVENT_BYTES]}… ({len(text)} characters in all, cut)"
    return storable(text)


def record_rejection(
    uow: UnitOfWork,
    ctx: Context,
    *,
    source: str,
    raw: str,
    reason: str,
    event: Event | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """Record a rejection at once (`RejectedEvents.record`). The same unresolved event (its id,
    else its text) rejected again counts one more occurrence on its row."""
    data = data or {}
    event_id = event.event_id if event else text_field(data.get("event_id"), 64)
    text = bounded(raw)
    fingerprint = hashlib.sha256(
        (f"id:{event_id}" if event_id else f"raw:{text}").encode("utf-8", "backslashreplace")
    ).hexdigest()
    now = ctx.clock.now()
    values = {
        "event_id": event_id,
        "type": event.type if event else text_field(data.get("type"), 32),
        "case_reference": getattr(event, "case_ref", None) or text_field(data.get("case_ref"), 40),
        "source": storable(source[:255]),
        "reason": storable(reason[:REASON_LIMIT]),
        "raw": text,
        "rejected_at": now,
        "last_rejected_at": now,
        "occurred_at": event.occurred_at if event else None,
        "fingerprint": fingerprint,
        "occurrences": 1,
    }
    uow.rejections.record(values)


def text_field(value: object, size: int) -> str | None:
    return storable(value[:size]) if isinstance(value, str) else None


def ingest_lines(
    uow: UnitOfWork,
    ctx: Context,
    lines: Iterable[str],
    source: str,
    on_event: Callable[[Event | None], None] | None = None,
    buffered: bool = True,
) -> IngestReport:
    """Apply every line of a JSON Lines stream; `source` names it in reports (a file name). A
    blank line carries no event: it is counted apart, so that the report's lines add up."""
    blank = 0

    def items() -> Iterator[Item]:
        nonlocal blank
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield Item(f"{source}:{number}", line)
            else:
                blank += 1

    report = ingest_items(uow, ctx, items(), on_event, buffered=buffered)
    report.blank = blank
    return report


def blank_lines(count: int) -> str:
    """The report's mention of the blank lines skipped ("" when none)."""
    return f", {count} ligne(s) vide(s) ignorée(s) (aucun événement)" if count else ""


def ingest_items(
    uow: UnitOfWork,
    ctx: Context,
    items: Iterable[Item],
    on_event: Callable[[Event | None], None] | None = None,
    buffered: bool = True,
) -> IngestReport:
    """Apply events in the order given: the one path of files, batches, the inbox and retries.

    Items go by chunks of CHUNK, one transaction each. A chunk is first applied buffered: its
    rows fetched in a few queries and written in bulk (`repositories.ChunkBuffered`), no
    savepoint per event (handlers check before they change anything, so a refusal leaves
    nothing). Should anything unexpected
    happen (a fault in an effect, a unique key taken by a concurrent writer at commit), the
    chunk is rolled back and applied again row by row, each event in a savepoint, where the fault stays
    with its event, which is rejected with the fault as its reason. A transient error there (the
    database went away, a deadlock) propagates: the caller retries, and the events already
    committed are then duplicates. `buffered=False` applies every chunk row by row from the
    start (the two give the same tables: `tests/integration/test_write_paths.py`).

    Items with an inbox row are applied only if the row is still pending (locked for the
    transaction, so two workers handed the same row never both apply it), and the
    row is settled in the same transaction as the event's effects.

    An item that `may_defer`, refused as premature (it came before its predecessor: a trigger
    not yet allowed from an open case's state, or a case not opened yet), is not recorded as
    rejected: its inbox row stays pending until its `not_before` (DEFERRAL_DELAY doubled at each
    deferral), and the item is counted in `report.deferred_items`.
    """
    report = IngestReport()
    with uow:
        batch: list[Item] = []
        for item in items:
            batch.append(item)
            if len(batch) == CHUNK:
                _apply_chunk_or_redo(uow, ctx, batch, report, on_event, buffered)
                batch = []
        if batch:
            _apply_chunk_or_redo(uow, ctx, batch, report, on_event, buffered)
    return report


Parsed = tuple[Item, Event | InvalidEvent]
Settlement = tuple[InboxStatus | None, str | None]  # None: deferred


def _apply_chunk_or_redo(
    uow: UnitOfWork,
    ctx: Context,
    items: list[Item],
    report: IngestReport,
    on_event: Callable[[Event | None], None] | None,
    buffered: bool,
) -> None:
    parsed = [(item, read_event(item.raw)) for item in items]
    try:
        part = _apply_chunk(uow, ctx, parsed, fast=buffered)
    except Exception as exc:
        if not buffered:
            raise
        uow.rollback()
        cause = type(getattr(exc, "orig", None) or exc).__name__  # the driver's error: no SQL, no values
        log.warning("lot de %d événements rejoué un à un après %s", len(items), cause)
        part = _apply_chunk(uow, ctx, parsed, fast=False)
    report.merge(part)
    if on_event is not None:
        for _, event in parsed:
            on_event(None if isinstance(event, InvalidEvent) else event)


def _apply_chunk(uow: UnitOfWork, ctx: Context, parsed: list[Parsed], fast: bool) -> IngestReport:
    part = IngestReport()
    uow.take_write_lock()  # SQLite: the chunk is one transaction, its savepoints true savepoints
    live = _pending(uow, parsed)
    part.settled_elsewhere = len(parsed) - len(live)
    if fast:
        uow.buffer_chunk(e for _, e in live if not isinstance(e, InvalidEvent))
    settled: list[dict[str, Any]] = []
    now = ctx.clock.now()
    for item, event in live:
        status, reason = _apply_one(uow, ctx, part, item, event, fast)
        if item.inbox_id is not None:
            verdict = status or InboxStatus.PENDING
            settled.append({"b_id": item.inbox_id, "b_status": verdict, "b_reason": reason,
                            "b_deferrals": item.deferrals + 1})  # fmt: skip
            if status is not None:
                kind = UNREADABLE if isinstance(event, InvalidEvent) else event.type
                part.settled[(item.sender, status.value, kind)] += 1
                if status == InboxStatus.APPLIED and item.accepted_at is not None:
                    part.delays.append((now - item.accepted_at).total_seconds())
    if settled:
        _settle(uow, ctx, settled)
    uow.commit()
    return part


def read_event(raw: str) -> Event | InvalidEvent:
    try:
        return parse_line(raw)
    except InvalidEvent as exc:
        return exc
    except Exception as exc:  # parse_line refuses every input it knows; this is the unforeseen rest
        return InvalidEvent(f"événement illisible ({type(exc).__name__} : {echo(str(exc))})")


def _pending(uow: UnitOfWork, parsed: list[Parsed]) -> list[Parsed]:
    """Drop items whose inbox row is no longer pending (settled by another worker meanwhile);
    the others are locked for the transaction (`InboxRows.lock_pending`)."""
    ids = [item.inbox_id for item, _ in parsed if item.inbox_id is not None]
    if not ids:
        return parsed
    free = uow.inbox.lock_pending(ids)
    return [(item, event) for item, event in parsed if item.inbox_id is None or item.inbox_id in free]


def deferral_delay(deferrals: int) -> timedelta:
    """How long a premature event waits before its `deferrals`-th try: DEFERRAL_DELAY, doubled
    at each deferral (2, 4, 8, 16 s), time for a predecessor sent late to arrive."""
    factor: int = 2 ** (deferrals - 1)
    return DEFERRAL_DELAY * factor


def _settle(uow: UnitOfWork, ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Write each inbox row's verdict. A deferred row stays pending, its attempts forgiven (it
    did not fail: it came early), until its not-before time: it does not hold the person's rows
    behind it, which may carry the predecessor it waits for."""
    now = ctx.clock.now()
    done = [{**r, "b_at": now} for r in rows if r["b_status"] != InboxStatus.PENDING]
    early = [{**r, "b_at": now + deferral_delay(r["b_deferrals"])} for r in rows
             if r["b_status"] == InboxStatus.PENDING]  # fmt: skip
    uow.inbox.settle(done, early)


def _apply_one(
    uow: UnitOfWork,
    ctx: Context,
    report: IngestReport,
    item: Item,
    event: Event | InvalidEvent,
    fast: bool,
) -> Settlement:
    if isinstance(event, InvalidEvent):
        return _reject(uow, ctx, report, item, str(event), None, event.raw, fast)
    try:
        handled = handle_event(uow, ctx, event) if fast else _handle_once_more_if_raced(uow, ctx, event)
    except WorkflowError as exc:
        if exc.premature and item.may_defer:
            report.deferred_items.append(item)
            return None, None
        if isinstance(exc, Forbidden):
            uow.access_denials.add(exc, ctx.clock.now(), getattr(event, "case_ref", None))
        refusal = str(exc)
    except Exception as exc:
        if fast or is_transient(exc):
            raise
        log.exception("événement %s (%s) : erreur interne", event.event_id, item.where)
        refusal = f"erreur interne ({type(exc).__name__}) : {echo(str(exc))[1:-1]}"
    else:
        if handled.status == HandledAs.DUPLICATE:
            report.duplicates += 1
            return InboxStatus.DUPLICATE, handled.message
        report.applied += 1
        report.by_type[event.type] += 1
        return InboxStatus.APPLIED, None
    return _reject(uow, ctx, report, item, refusal, event, None, fast)


def _handle_once_more_if_raced(uow: UnitOfWork, ctx: Context, event: Event) -> Handled:
    """A unique key taken by a concurrent writer: the second attempt sees its commit."""
    try:
        return handle_in_savepoint(uow, ctx, event)
    except ConcurrentUpdate:
        return handle_in_savepoint(uow, ctx, event)


def _reject(
    uow: UnitOfWork,
    ctx: Context,
    report: IngestReport,
    item: Item,
    reason: str,
    event: Event | None,
    data: dict[str, object] | None,
    fast: bool,
) -> Settlement:
    """Record the rejection in a savepoint of its own. Should even that fail (off the fast path,
    where the fault is this event's), the event is still rejected: recorded without its text."""
    report.rejected += 1
    event_id = event.event_id if event else text_field((data or {}).get("event_id"), 64)
    reason = storable(reason[:REASON_LIMIT])
    if len(report.rejections) < REPORTED:
        report.rejections.append(Rejection(item.where, event_id, reason))
    # The reason may name the person: not in logs.
    log.info("rejeté : %s (événement %s)", item.where, event_id)
    try:
        with uow.savepoint():
            record_rejection(uow, ctx, source=item.where, raw=item.raw, reason=reason, event=event, data=data)
    except Exception as exc:
        if fast or is_transient(exc):
            raise
        log.exception("le rejet de %s n'a pas pu être enregistré tel quel", item.where)
        with uow.savepoint():
            stand_in = f"(non enregistrable : {type(exc).__name__})"
            record_rejection(uow, ctx, source=item.where, raw=stand_in, reason=reason)
    return InboxStatus.REJECTED, reason


RESOLVED = {HandledAs.APPLIED: "appliqué", HandledAs.DUPLICATE: "doublon"}  # a retried event, as said


def retry_rejection(uow: UnitOfWork, ctx: Context, rejected_id: int) -> Handled:
    """Apply a rejected event again, after the cause was fixed (a professional imported, a
    missing event applied). On success the rejection is marked resolved; on refusal it stays
    as it was and the new reason is raised (WorkflowError)."""
    with uow:
        row = uow.rejections.get(rejected_id)
        if row is None:
            raise NotFound(f"aucun événement rejeté n° {rejected_id}")
        if row.resolved_at is not None:
            raise WorkflowError(
                f"l'événement rejeté n° {rejected_id} a déjà été résolu le {labels.instant(row.resolved_at)}"
            )
        event = parse_line(row.raw)
        handled = handle_in_savepoint(uow, ctx, event)
        row.resolved_at = ctx.clock.now()
        row.resolution = f"{RESOLVED[handled.status]} à la relance : {handled.message}"[:255]
        uow.commit()
        return handled
