"""Apply a stream of events: good ones land, bad ones are recorded and reported.

Events go by chunks of CHUNK, one transaction each, so a file of 100 000 events does not pay
100 000 commits, a refused event never leaves half a case behind, and a crash loses at most the
uncommitted chunk (replaying the file then reports the committed events as duplicates). How a
chunk is applied, fast path first and savepoints as the fallback, is told in `ingest_items`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from models import RejectedEvent
from workflow.context import Context
from workflow.errors import (
    ConcurrentUpdate,
    Forbidden,
    NotFound,
    TransitionRefused,
    WorkflowError,
    is_transient,
)
from workflow.events import Event, InvalidEvent, parse_line, parse_object
from workflow.lookups import Lookups
from workflow.permissions import record as record_denial
from workflow.services import Outcome, Status, apply_event
from workflow.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

CHUNK = 500  # events per commit: ~1 s of SQLite work, bounded loss on crash
REPORTED = 20  # rejections kept in memory for the report; the table has them all


@dataclass(frozen=True)
class Rejection:
    source: str
    event_id: str | None
    reason: str

    def __str__(self) -> str:
        ident = f" [{self.event_id}]" if self.event_id else ""
        return f"{self.source}{ident}: {self.reason}"


@dataclass
class IngestReport:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred_items: list[tuple[str, Any]] = field(default_factory=list)  # premature: try again later
    by_type: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first REPORTED ones

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
        self.by_type.update(other.by_type)
        self.deferred_items.extend(other.deferred_items)
        self.rejections.extend(other.rejections[: max(0, REPORTED - len(self.rejections))])

    def summary(self) -> str:
        deferred = f", {self.deferred} deferred (retried shortly)" if self.deferred else ""
        return (
            f"{self.total} event(s): {self.applied} applied, {self.duplicates} duplicate(s) "
            f"(already applied, nothing changed), {self.rejected} rejected{deferred}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "deferred": self.deferred,
            "rejections": [str(r) for r in self.rejections],
        }


def record_rejection(
    session: Session,
    ctx: Context,
    *,
    source: str,
    raw: str,
    reason: str,
    event: Event | None = None,
    data: dict[str, object] | None = None,
) -> None:
    data = data or {}
    session.add(
        RejectedEvent(
            event_id=event.event_id if event else _text(data.get("event_id"), 64),
            type=event.type if event else _text(data.get("type"), 32),
            case_reference=getattr(event, "case_ref", None) or _text(data.get("case_ref"), 40),
            source=source[:255],
            reason=reason,
            raw=raw,
            rejected_at=ctx.clock.now(),
        )
    )


def _text(value: object, size: int) -> str | None:
    return value[:size] if isinstance(value, str) else None


Raw = Any  # a JSON line (str), or a value already decoded from JSON (a Celery payload)


def ingest_lines(
    uow: UnitOfWork,
    ctx: Context,
    lines: Iterable[str],
    source: str,
    on_event: Callable[[Event | None], None] | None = None,
) -> IngestReport:
    """Apply every line of a JSON Lines stream; `source` names it in reports (a file name)."""
    items = ((f"{source}:{number}", line) for number, line in enumerate(lines, start=1) if line.strip())
    return ingest_items(uow, ctx, items, on_event)


def ingest_items(
    uow: UnitOfWork,
    ctx: Context,
    items: Iterable[tuple[str, Raw]],
    on_event: Callable[[Event | None], None] | None = None,
    defer_premature: bool = False,
    decoded: bool = False,
) -> IngestReport:
    """Apply events given as (where, raw) pairs: the one path of files, batches and retries.

    Items go by chunks of CHUNK, one transaction each. A chunk is first applied on the fast
    path: its rows fetched in a few queries (`Lookups`), no savepoint per event (handlers check
    before they change anything, so a refusal leaves nothing). Should anything unexpected
    happen (a fault in an effect, a unique key taken by a concurrent writer at commit), the
    chunk is rolled back and applied again event by event in savepoints, where the fault stays
    with its event. A transient error there (the database went away, a deadlock) propagates:
    the caller retries, and the events already committed are then duplicates.

    With `defer_premature`, an event refused because it came before its predecessor is not
    recorded as rejected but returned in `report.deferred_items`, for the caller to try later.
    With `decoded`, items are values already decoded from JSON (a Celery payload), else lines.
    """
    report = IngestReport()
    with uow:
        batch: list[tuple[str, Raw]] = []
        for item in items:
            batch.append(item)
            if len(batch) == CHUNK:
                _chunk(uow, ctx, batch, report, on_event, defer_premature, decoded)
                batch = []
        if batch:
            _chunk(uow, ctx, batch, report, on_event, defer_premature, decoded)
    return report


def _chunk(
    uow: UnitOfWork,
    ctx: Context,
    items: list[tuple[str, Raw]],
    report: IngestReport,
    on_event: Callable[[Event | None], None] | None,
    defer_premature: bool,
    decoded: bool,
) -> None:
    parsed = [(where, raw, _parse(raw, decoded)) for where, raw in items]
    events = [p for _, _, p in parsed if not isinstance(p, InvalidEvent)]
    part = IngestReport()
    try:
        lookups = Lookups.load(uow.session, events)
        for where, raw, event in parsed:
            _one(uow.session, ctx, part, where, raw, event, defer_premature, fast=True)
        lookups.write(uow.session)
        uow.commit()
    except Exception as exc:
        uow.rollback()
        log.warning("chunk of %d events redone one by one after %s: %s", len(items), type(exc).__name__, exc)
        part = IngestReport()
        Lookups.clear(uow.session)
        for where, raw, event in parsed:
            _one(uow.session, ctx, part, where, raw, event, defer_premature, fast=False)
        uow.commit()
    finally:
        Lookups.clear(uow.session)
    report.merge(part)
    if on_event is not None:
        for _, _, event in parsed:
            on_event(None if isinstance(event, InvalidEvent) else event)


def _parse(raw: Raw, decoded: bool) -> Event | InvalidEvent:
    try:
        return parse_object(raw) if decoded else parse_line(raw)
    except InvalidEvent as exc:
        return exc


def _one(
    session: Session,
    ctx: Context,
    report: IngestReport,
    where: str,
    raw: Raw,
    event: Event | InvalidEvent,
    defer_premature: bool,
    fast: bool,
) -> None:
    if isinstance(event, InvalidEvent):
        _reject(session, ctx, report, where, raw, str(event), None, event.raw)
        return
    try:
        outcome = apply_event(session, ctx, event) if fast else _apply_once_more_if_raced(session, ctx, event)
    except TransitionRefused as exc:
        if exc.premature and defer_premature:
            report.deferred_items.append((where, raw))
        else:
            _reject(session, ctx, report, where, raw, str(exc), event, None)
    except Forbidden as exc:
        record_denial(session, exc, ctx.clock.now(), getattr(event, "case_ref", None))
        _reject(session, ctx, report, where, raw, str(exc), event, None)
    except WorkflowError as exc:
        _reject(session, ctx, report, where, raw, str(exc), event, None)
    except Exception as exc:
        if fast or is_transient(exc):
            raise
        log.exception("event %s at %s: internal error", event.event_id, where)
        _reject(
            session, ctx, report, where, raw, f"internal error ({type(exc).__name__}): {exc}", event, None
        )
    else:
        if outcome.status == Status.DUPLICATE:
            report.duplicates += 1
        else:
            report.applied += 1
            report.by_type[event.type] += 1


def _apply_once_more_if_raced(session: Session, ctx: Context, event: Event) -> Outcome:
    """A unique key taken by a concurrent writer: the second attempt sees its commit."""
    try:
        return apply_event(session, ctx, event)
    except ConcurrentUpdate:
        return apply_event(session, ctx, event)


def _reject(
    session: Session,
    ctx: Context,
    report: IngestReport,
    where: str,
    raw: Raw,
    reason: str,
    event: Event | None,
    data: dict[str, object] | None,
) -> None:
    report.rejected += 1
    event_id = event.event_id if event else _text((data or {}).get("event_id"), 64)
    if len(report.rejections) < REPORTED:
        report.rejections.append(Rejection(where, event_id, reason))
    log.info("rejected %s (event %s)", where, event_id)  # the reason may name the person: not in logs
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    text = text.rstrip("\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    record_rejection(session, ctx, source=where, raw=text, reason=reason, event=event, data=data)


def retry_rejection(uow: UnitOfWork, ctx: Context, rejected_id: int) -> Outcome:
    """Apply a rejected event again, after the cause was fixed (a professional imported, a
    missing event applied). On success the rejection is marked resolved; on refusal it stays
    as it was and the new reason is raised (WorkflowError)."""
    with uow:
        row = uow.session.get(RejectedEvent, rejected_id)
        if row is None:
            raise NotFound(f"no rejected event with id {rejected_id}")
        if row.resolved_at is not None:
            raise WorkflowError(
                f"rejected event {rejected_id} was already resolved on {row.resolved_at.isoformat()}"
            )
        event = parse_line(row.raw)
        outcome = apply_event(uow.session, ctx, event)
        row.resolved_at = ctx.clock.now()
        row.resolution = f"{outcome.status} by retry: {outcome.message}"[:255]
        uow.commit()
        return outcome
