"""Apply one event, once: the duplicate check, its handler, and the processed-event row.

`handle_event` runs inside the caller's transaction, so that a batch (a file, a Celery batch)
keeps the good events and records the bad ones: either the whole event lands (case row, log
row, processed-event row) or none of it does, because every handler checks all it needs
before it changes anything. `handle_in_savepoint` adds a savepoint around it, for the row-by-row
path, where it also contains an unexpected fault to its one event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.handlers import HANDLERS
from workflow.application.service_context import Context
from workflow.domain.duplicates import AppliedBefore, Classification, classify
from workflow.domain.errors import ConcurrentUpdate, EventRejected
from workflow.domain.events import Event, payload_digest

log = logging.getLogger(__name__)


class HandledAs(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Handled:
    """What became of one event that was not refused."""

    status: HandledAs
    event_id: str
    message: str
    case_reference: str | None = None


def handle_event(uow: UnitOfWork, ctx: Context, event: Event) -> Handled:
    """Apply one event in the caller's transaction. Raises WorkflowError, having written
    nothing, on refusal."""
    before = uow.processed.get(event.event_id)
    if before is not None:
        return _again(event, before)
    reference, message = HANDLERS[event.type](uow, ctx, event)
    uow.processed.add(_processed_row(ctx, event, reference))
    log.debug("événement %s appliqué au dossier %s", event.event_id, reference)
    return Handled(HandledAs.APPLIED, event.event_id, message, reference)


def handle_in_savepoint(uow: UnitOfWork, ctx: Context, event: Event) -> Handled:
    """`handle_event` in a savepoint of its own (row by row only: a buffered chunk's memory
    would not roll back with it)."""
    try:
        with uow.savepoint():
            handled = handle_event(uow, ctx, event)
            uow.flush()
    except IntegrityError as exc:
        # Another worker applied the same event_id first (at-least-once delivery): the unique key
        # made us wait for its commit, and the event is now a duplicate, not a rejection.
        winner = uow.processed.get(event.event_id)
        if winner is not None:
            return _again(event, winner)
        raise ConcurrentUpdate(str(exc.orig)) from exc
    return handled


def _again(event: Event, before: AppliedBefore) -> Handled:
    """An event id seen before: the same event (a duplicate) or another one (refused)."""
    verdict, reason = classify(event, before)
    if verdict == Classification.REJECTED:
        raise EventRejected(reason or "")
    return Handled(HandledAs.DUPLICATE, event.event_id, reason or "", before.case_reference)


def _processed_row(ctx: Context, event: Event, reference: str | None) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "case_reference": reference,
        "payload_sha256": payload_digest(event),
        "occurred_at": event.occurred_at,
        "applied_at": ctx.clock.now(),
    }
