"""An event id is applied once: the one judgement every door makes on a payload.

A door (the HTTP API, a Celery message, a file) and the worker applying the event ask the same
question of the same facts, the event as read and what was applied under its id before, and
must give the same answer, whatever the wording around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from workflow.domain.events import Event, InvalidEvent, payload_digest
from workflow.domain.labels import instant


class Classification(StrEnum):
    ACCEPTED = "accepted"  # new: to be applied
    DUPLICATE = "duplicate"  # the same event again: nothing to do
    REJECTED = "rejected"  # unreadable, or an id already used by another event


class AppliedBefore(Protocol):
    """What is kept of an applied event (a processed-event row, or its buffered copy)."""

    @property
    def type(self) -> str: ...
    @property
    def payload_sha256(self) -> str: ...
    @property
    def applied_at(self) -> datetime: ...
    @property
    def case_reference(self) -> str | None: ...


@dataclass(frozen=True)
class InFlight:
    """The first copy of an event, accepted and still waiting in the inbox: a copy sent again
    meanwhile is a duplicate of it, never a second event for the business rules to refuse."""

    type: str
    payload_sha256: str
    accepted_at: datetime


def classify(
    read: Event | InvalidEvent, before: AppliedBefore | InFlight | None
) -> tuple[Classification, str | None]:
    """(classification, reason) of a payload read by `ingest.read_event`, given what was applied
    (or accepted and not applied yet) under its event id (None if nothing)."""
    if isinstance(read, InvalidEvent):
        return Classification.REJECTED, str(read)
    if before is None:
        return Classification.ACCEPTED, None
    if isinstance(before, InFlight):
        when = f"accepté le {instant(before.accepted_at)} (heure de Paris), pas encore appliqué"
    else:
        when = f"appliqué le {instant(before.applied_at)} (heure de Paris)"
    if before.payload_sha256 != payload_digest(read):
        return Classification.REJECTED, (
            f"event_id {read.event_id} déjà pris par un autre événement {before.type}, {when} : "
            "un event_id ne sert qu'une fois"
        )
    if isinstance(before, InFlight):
        return Classification.DUPLICATE, f"déjà {when} : il ne sera appliqué qu'une fois"
    return Classification.DUPLICATE, f"déjà {when} : rien n'a changé"
