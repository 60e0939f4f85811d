"""What the handlers of a case's events share: find the case, date the decision, move it."""

from __future__ import annotations

from datetime import date
from typing import Any

from models import Case
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.actors import event_actor
from workflow.application.deciding import decide
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.errors import EventRejected, UnknownCase
from workflow.domain.events import Event


def known_case(uow: UnitOfWork, reference: str) -> Case:
    """The case an event names, locked until commit. An unknown case is refused as premature:
    the event opening it may still be on its way through another worker."""
    case = uow.cases.get(reference)
    if case is None:
        raise UnknownCase(f"dossier inconnu {reference}")
    return case


def decision_day(case: Case, occurred: date, given: date | None = None) -> date:
    day = given or occurred
    if day < case.orientation_date:
        raise EventRejected(
            f"la date du {labels.day(day)} précède l'orientation du dossier {case.reference} "
            f"({labels.day(case.orientation_date)})"
        )
    return day


def apply_trigger(
    uow: UnitOfWork, ctx: Context, case: Case, trigger: str, event: Event, on: date, **fields: Any
) -> str:
    """Decide `trigger` on the case as the event's actor; return what happened, for the report."""
    from_state = case.state
    decide(
        uow, ctx, case, trigger,
        actor=event_actor(uow, event.actor), occurred_at=event.occurred_at, on=on,
        event_id=event.event_id, **fields,
    )  # fmt: skip
    return f"{labels.word(labels.TRIGGERS, trigger)} : {labels.state_change(from_state, case.state)}"
