"""One handler per event type, grouped by what the events are about.

A handler checks all it needs before it changes anything, so that a refusal leaves the
transaction as it was even on the buffered path, which has no savepoint per event. It returns
the case's reference (None when the event concerns no case) and what happened, for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.handlers import accompaniment, appointments, departures, opening
from workflow.application.service_context import Context

Handler = Callable[[UnitOfWork, Context, Any], tuple[str | None, str]]

HANDLERS: dict[str, Handler] = {
    "orientation_proposed": opening.orientation_proposed,
    "binome_assigned": accompaniment.binome_assigned,
    "consent_recorded": accompaniment.consent_recorded,
    "appointment_planned": appointments.appointment_planned,
    "appointment_held": appointments.appointment_outcome,
    "appointment_missed": appointments.appointment_outcome,
    "appointment_excused": appointments.appointment_outcome,
    "diagnostic_done": accompaniment.diagnostic_done,
    "contract_signed": accompaniment.contract_signed,
    "renewal_decided": accompaniment.renewal_decided,
    "exit_decided": accompaniment.exit_decided,
    "registration_ended": departures.registration_ended,
    "radiation": departures.radiation,
}
