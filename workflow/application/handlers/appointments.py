"""Appointment events: planned, then held, missed or excused (seed 003; seed 004 art. 2 e)."""

from __future__ import annotations

from models import Appointment
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.actors import event_actor, professional
from workflow.application.handlers.common import known_case
from workflow.application.reminders import planning
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.clock import paris_date
from workflow.domain.errors import EventRejected
from workflow.domain.events import AppointmentExcused, AppointmentHeld, AppointmentMissed, AppointmentPlanned
from workflow.domain.lifecycle import OPEN_STATES
from workflow.domain.vocabulary import AppointmentOutcome

OUTCOMES = {
    "appointment_held": AppointmentOutcome.HONORE,
    "appointment_missed": AppointmentOutcome.ABSENT,
    "appointment_excused": AppointmentOutcome.EXCUSE,
}


def appointment_planned(uow: UnitOfWork, ctx: Context, ev: AppointmentPlanned) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    if case.state not in OPEN_STATES:
        raise EventRejected(f"le dossier {case.reference} est clos : aucun rendez-vous ne peut être planifié")
    if uow.appointments.get(ev.appointment_id) is not None:
        raise EventRejected(f"le rendez-vous {ev.appointment_id} est déjà planifié")
    actor = event_actor(uow, ev.actor)
    if ev.professional_id is not None and ev.professional_id != actor.id:
        professional(uow, ev.professional_id, None, "le professionnel")
    uow.appointments.add(
        Appointment(
            external_id=ev.appointment_id,
            case_id=case.id,
            kind=ev.kind,
            professional_id=ev.professional_id,
            planned_at=ev.planned_at,
            booked_at=ev.occurred_at,
            outcome=AppointmentOutcome.PREVU,
        )
    )
    # The convocation reminder, if still to come, ends on its due day (`reminder_rules.moved_on`:
    # an appointment was planned): nothing to write now.
    return case.reference, f"rendez-vous {ev.appointment_id} planifié"


def appointment_outcome(
    uow: UnitOfWork, ctx: Context, ev: AppointmentHeld | AppointmentMissed | AppointmentExcused
) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    appointment = uow.appointments.get(ev.appointment_id)
    if appointment is None or appointment.case_id != case.id:
        raise EventRejected(
            f"le rendez-vous {ev.appointment_id} n'est pas planifié pour le dossier {case.reference}"
        )
    if appointment.outcome != AppointmentOutcome.PREVU:
        raise EventRejected(
            f"le rendez-vous {ev.appointment_id} est déjà enregistré : "
            f"{labels.word(labels.APPOINTMENT_OUTCOMES, appointment.outcome)}"
        )
    event_actor(uow, ev.actor)
    appointment.outcome = OUTCOMES[ev.type]
    appointment.outcome_at = ev.occurred_at
    # Held first appointments end their reminder on its due day (`reminder_rules.moved_on`):
    # checking here would cost a query of the case's appointments for every event.
    if appointment.outcome == AppointmentOutcome.ABSENT:
        planning.tell_missed_first_appointment(uow, ctx, case, appointment, paris_date(ev.occurred_at))
    return case.reference, (
        f"rendez-vous {ev.appointment_id} : {labels.word(labels.APPOINTMENT_OUTCOMES, appointment.outcome)}"
    )
