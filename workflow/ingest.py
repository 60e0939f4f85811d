"""Apply a stream of JSON Lines events: good lines land, bad lines are recorded and reported.

Each event runs in its own savepoint (`services.apply_event`) inside a transaction that is
committed every CHUNK events, so a file of 100 000 events does not pay 100 000 commits, a
refused event never leaves half a case behind, and a crash loses at most the uncommitted
chunk (replaying the file then reports the committed events as duplicates).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models import RejectedEvent
from workflow.errors import WorkflowError
from workflow.events import Event, InvalidEvent, parse_line
from workflow.services import Context, Status, apply_event
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
    by_type: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first REPORTED ones

    @property
    def total(self) -> int:
        return self.applied + self.duplicates + self.rejected

    def summary(self) -> str:
        return (
            f"{self.total} event(s): {self.applied} applied, {self.duplicates} duplicate(s) "
            f"(already applied, nothing changed), {self.rejected} rejected"
        )


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


def ingest_lines(
    uow: UnitOfWork,
    ctx: Context,
    lines: Iterable[str],
    source: str,
    on_event: Callable[[Event | None], None] | None = None,
) -> IngestReport:
    """Apply every line; `source` names the stream in reports (a file name)."""
    report = IngestReport()
    pending = 0
    with uow:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{source}:{number}"
            event: Event | None = None
            try:
                event = parse_line(line)
                outcome = apply_event(uow.session, ctx, event)
            except InvalidEvent as exc:
                _reject(uow.session, ctx, report, where, line, str(exc), None, exc.raw)
            except WorkflowError as exc:
                _reject(uow.session, ctx, report, where, line, str(exc), event, None)
            else:
                if outcome.status == Status.DUPLICATE:
                    report.duplicates += 1
                else:
                    report.applied += 1
                    report.by_type[event.type] += 1
            pending += 1
            if pending >= CHUNK:
                uow.commit()
                pending = 0
            if on_event is not None:
                on_event(event)
        uow.commit()
    return report


def _reject(
    session: Session,
    ctx: Context,
    report: IngestReport,
    where: str,
    line: str,
    reason: str,
    event: Event | None,
    data: dict[str, object] | None,
) -> None:
    report.rejected += 1
    event_id = event.event_id if event else _text((data or {}).get("event_id"), 64)
    if len(report.rejections) < REPORTED:
        report.rejections.append(Rejection(where, event_id, reason))
    log.info("rejected %s: %s", where, reason)
    raw = line.rstrip("\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    record_rejection(session, ctx, source=where, raw=raw, reason=reason, event=event, data=data)


def dump(event: Event) -> str:
    """One event as a JSON line, as the integration contract expects it."""
    return json.dumps(event.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
