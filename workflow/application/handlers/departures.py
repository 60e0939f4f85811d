"""Events telling that a person is no longer a job seeker: the open case, if any, ends
(seeds 000/001 art. 3.5)."""

from __future__ import annotations

from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.handlers.common import apply_trigger, decision_day
from workflow.application.service_context import Context
from workflow.domain.clock import paris_date
from workflow.domain.errors import EventRejected
from workflow.domain.events import Radiation, RegistrationEnded
from workflow.domain.lifecycle import SORTIR
from workflow.domain.vocabulary import ExitReason


def registration_ended(uow: UnitOfWork, ctx: Context, ev: RegistrationEnded) -> tuple[str | None, str]:
    return _person_left(uow, ctx, ev, ExitReason.FIN_INSCRIPTION)


def radiation(uow: UnitOfWork, ctx: Context, ev: Radiation) -> tuple[str | None, str]:
    return _person_left(uow, ctx, ev, ExitReason.RADIATION)


def _person_left(
    uow: UnitOfWork, ctx: Context, ev: RegistrationEnded | Radiation, reason: ExitReason
) -> tuple[str | None, str]:
    person = uow.people.get(ev.ft_identifier)
    if person is None:
        raise EventRejected(f"personne inconnue {ev.ft_identifier}")
    case = uow.cases.open_of(person.id)
    message = f"personne {ev.ft_identifier} notée non inscrite ; aucun dossier ouvert"
    reference = None
    if case is not None:
        on = decision_day(case, paris_date(ev.occurred_at), ev.effective_on)
        message = apply_trigger(uow, ctx, case, SORTIR, ev, on, exit_reason=reason)
        reference = case.reference
    person.registered = False
    person.updated_at = ctx.clock.now()
    return reference, message
