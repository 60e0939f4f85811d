"""The service layer: apply one event to the database, atomically, once.

`apply_event` runs inside the caller's transaction, so that a batch (a file, a Celery batch)
keeps the good events and records the bad ones: either the whole event lands (case row, log
row, processed-event row) or none of it does. Every handler checks all it needs before it
changes anything, so a refusal leaves nothing behind even on the batch fast path, which has
no savepoint per event; elsewhere each event gets a savepoint (see `apply_event`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    Appointment,
    Case,
    Person,
    ProcessedEvent,
    Professional,
)
from workflow import audit, reminders
from workflow.attempt import Actor, Attempt
from workflow.clock import paris_date
from workflow.context import Context
from workflow.errors import ConcurrentUpdate, EventRejected
from workflow.events import (
    AppointmentExcused,
    AppointmentHeld,
    AppointmentMissed,
    AppointmentPlanned,
    BinomeAssigned,
    ConsentRecorded,
    ContractSigned,
    DiagnosticDone,
    Event,
    ExitDecided,
    OrientationProposed,
    Radiation,
    RegistrationEnded,
    RenewalDecided,
    payload_digest,
)
from workflow.lifecycle import (
    AFFECTER_BINOME,
    OPEN_STATES,
    ORIENTER,
    POSER_DIAGNOSTIC,
    RECUEILLIR_ADHESION,
    RENOUVELER,
    SIGNER_CONTRAT,
    SORTIR,
    State,
    fire,
)
from workflow.lookups import Applied, Lookups
from workflow.permissions import check_trigger
from workflow.reminder_rules import planned
from workflow.vocabulary import AppointmentOutcome, ExitReason, Role

log = logging.getLogger(__name__)


class Status(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Outcome:
    status: Status
    event_id: str
    message: str
    case_reference: str | None = None


def apply_event(session: Session, ctx: Context, event: Event) -> Outcome:
    """Apply one event. Raises WorkflowError, having written nothing, on refusal.

    Every handler checks all it needs before it changes anything, so a refusal leaves the
    session as it was. With `Lookups` installed (the batch fast path) the event is applied
    straight into the chunk's transaction; without, inside a savepoint of its own, which also
    contains an unexpected fault to this one event.
    """
    digest = payload_digest(event)
    lookups = Lookups.of(session)
    seen: ProcessedEvent | Applied | None
    if lookups is not None and event.event_id in lookups.processed:
        seen = lookups.processed[event.event_id]
    else:
        seen = session.get(ProcessedEvent, event.event_id)
    if seen is not None:
        return _replay(seen, event, digest)
    if lookups is not None:
        reference, message = HANDLERS[event.type](session, ctx, event)
        row = _processed_row(ctx, event, reference, digest)
        lookups.processed_rows.append(row)
        lookups.processed[event.event_id] = Applied(event.type, digest, row["applied_at"], reference)
        return Outcome(Status.APPLIED, event.event_id, message, reference)
    try:
        with session.begin_nested():
            reference, message = HANDLERS[event.type](session, ctx, event)
            session.add(ProcessedEvent(**_processed_row(ctx, event, reference, digest)))
            session.flush()
    except IntegrityError as exc:
        # Another worker applied the same event_id first (at-least-once delivery): the unique key
        # made us wait for its commit, and the event is now a duplicate, not a rejection.
        winner = session.get(ProcessedEvent, event.event_id, populate_existing=True)
        if winner is not None:
            return _replay(winner, event, digest)
        raise ConcurrentUpdate(str(exc.orig)) from exc
    log.debug("event %s applied to case %s", event.event_id, reference)
    return Outcome(Status.APPLIED, event.event_id, message, reference)


def _processed_row(ctx: Context, event: Event, reference: str | None, digest: str) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "case_reference": reference,
        "payload_sha256": digest,
        "occurred_at": event.occurred_at,
        "applied_at": ctx.clock.now(),
    }


def _replay(seen: ProcessedEvent | Applied, event: Event, digest: str) -> Outcome:
    if seen.payload_sha256 != digest:
        raise EventRejected(
            f"event_id {event.event_id} was already used by a different {seen.type} event "
            f"applied on {seen.applied_at.isoformat()}: event ids must be unique"
        )
    return Outcome(
        Status.DUPLICATE,
        event.event_id,
        f"already applied on {seen.applied_at.isoformat()}: nothing changed",
        seen.case_reference,
    )


# --- helpers ---------------------------------------------------------------------------


def _actor(session: Session, ref: Any, *roles: Role) -> Actor:
    """The acting professional, checked against the directory (the system actor excepted)."""
    actor = Actor(ref.id, Role(ref.role))
    if actor.role == Role.SYSTEME:
        return actor
    _professional(session, actor.id, actor.role, "actor")
    if roles and actor.role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise EventRejected(f"actor {actor.id} acts as {actor.role}; this event needs {allowed}")
    return actor


def professional_actor(session: Session, pid: str, roles: frozenset[Role]) -> Actor:
    """A professional of the directory acting under their own role, which must be one of `roles`
    (a decision recorded from a file names its actor by id only)."""
    pro = _professional(session, pid, None, "actor")
    if pro.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise EventRejected(f"actor {pid} is a {pro.role}; this decision is taken by a {allowed}")
    return Actor(pro.id, Role(pro.role))


def _professional(session: Session, pid: str, role: Role | None, what: str) -> Professional:
    """A professional of the directory, active, with the given role (any role if None)."""
    # The identity map holds objects weakly, so a professional looked up for one event would be
    # fetched again for the next. Keep them for the session: one ingestion run or one batch, which
    # therefore sees the directory as it was when it first needed each professional.
    known: dict[str, Professional | None] = session.info.setdefault("professionals", {})
    if pid not in known:
        known[pid] = session.get(Professional, pid)
    pro = known[pid]
    if pro is None:
        raise EventRejected(
            f"{what} {pid} is not in the directory of professionals "
            "(import it with `accompagnement professionals import`)"
        )
    if role is not None and pro.role != role:
        raise EventRejected(f"{what} {pid} is a {pro.role}, not a {role}")
    if not pro.active:
        raise EventRejected(f"{what} {pid} is no longer active")
    return pro


def _case(session: Session, reference: str) -> Case:
    """The case, locked until commit on PostgreSQL: two workers applying events of the same case
    serialize here (SQLite allows one writer at a time anyway)."""
    lookups = Lookups.of(session)
    if lookups is not None and reference in lookups.cases:
        case = lookups.cases[reference]
    else:
        case = session.scalar(select(Case).where(Case.reference == reference).with_for_update(of=Case))
    if case is None:
        raise EventRejected(f"unknown case {reference}")
    return case


def _person(session: Session, ft_identifier: str) -> Person | None:
    lookups = Lookups.of(session)
    if lookups is not None and ft_identifier in lookups.persons:
        return lookups.persons[ft_identifier]
    return session.scalar(select(Person).where(Person.ft_identifier == ft_identifier))


def _appointment(session: Session, external_id: str) -> Appointment | None:
    lookups = Lookups.of(session)
    if lookups is not None and external_id in lookups.appointments:
        return lookups.appointments[external_id]
    return session.scalar(select(Appointment).where(Appointment.external_id == external_id))


def _decision_day(case: Case, occurred: date, given: date | None = None) -> date:
    day = given or occurred
    if day < case.orientation_date:
        raise EventRejected(
            f"date {day.isoformat()} is before the orientation of case {case.reference} "
            f"({case.orientation_date.isoformat()})"
        )
    return day


def decide(
    session: Session,
    ctx: Context,
    case: Case,
    trigger: str,
    *,
    actor: Actor,
    occurred_at: datetime,
    on: date,
    event_id: str | None = None,
    **fields: Any,
) -> str:
    """Fire a trigger on a case and append its log row: the two land together or not at all.

    The one way every decision reaches a case, whether it comes from an event, a revue or a
    test; returns the log row's hash. Raises TransitionRefused, leaving the case untouched,
    when a guard refuses.
    """
    terms, version_id = ctx.terms(session, case, on)
    attempt = Attempt(
        actor=actor,
        occurred_at=occurred_at,
        on=on,
        terms=terms,
        convention_version_id=version_id,
        event_id=event_id,
        **fields,
    )
    check_trigger(actor, trigger, attempt.exit_reason)
    from_state = case.state
    before = planned(case, terms)
    details = fire(case, trigger, attempt)
    if attempt.revue_id is not None:
        details["revue_id"] = attempt.revue_id
    case.updated_at = ctx.clock.now()
    reminders.sync(session, ctx, case, before, planned(case, terms))
    return audit.append(
        session,
        case,
        trigger=trigger,
        from_state=from_state,
        actor=actor,
        occurred_at=occurred_at,
        recorded_at=ctx.clock.now(),
        event_id=event_id,
        reason=str(attempt.exit_reason) if attempt.exit_reason else None,
        details=details,
    )


def _transition(
    session: Session, ctx: Context, case: Case, trigger: str, event: Event, on: date, **fields: Any
) -> str:
    from_state = case.state
    decide(
        session, ctx, case, trigger,
        actor=_actor(session, event.actor), occurred_at=event.occurred_at, on=on,
        event_id=event.event_id, **fields,
    )  # fmt: skip
    return f"{trigger}: {from_state} → {case.state}"


# --- handlers, one per event type ------------------------------------------------------

Handler = Callable[[Session, Context, Any], tuple[str | None, str]]


def _orientation_proposed(session: Session, ctx: Context, ev: OrientationProposed) -> tuple[str, str]:
    lookups = Lookups.of(session)
    if lookups is not None and ev.case_ref in lookups.cases:
        exists = lookups.cases[ev.case_ref] is not None
    else:
        exists = session.scalar(select(Case.id).where(Case.reference == ev.case_ref)) is not None
    if exists:
        raise EventRejected(f"case {ev.case_ref} already exists")
    actor = _actor(session, ev.actor)
    check_trigger(actor, ORIENTER)
    code = ev.convention or ev.person.departement
    day = paris_date(ev.occurred_at)
    conv = ctx.book.in_force(code, day)  # raises ConfigurationError, a WorkflowError
    now = ctx.clock.now()
    person = _person(session, ev.person.ft_identifier)
    if person is not None:
        open_case = session.scalar(
            select(Case.reference).where(Case.person_id == person.id, Case.state.in_(OPEN_STATES))
        )
        if open_case:
            raise EventRejected(f"person {person.ft_identifier} already has an open case, {open_case}")
    else:
        person = Person(ft_identifier=ev.person.ft_identifier, created_at=now)
        session.add(person)
    person.status = ev.person.status
    person.registered = ev.person.registered
    person.departement = ev.person.departement
    person.agence = ev.person.agence
    person.updated_at = now
    case = Case(
        reference=ev.case_ref,
        person=person,
        convention_code=code,
        agence=ev.person.agence,
        state=State.REPERAGE.value,
        orienteur_id=actor.id,
        origin=ev.origin,
        consent=ev.consent,
        barriers=ev.barriers.codes(),
        other_barrier_agreed=ev.other_barrier_agreed,
        orientation_date=day,
        renewal_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()  # the log row needs the case's id
    if lookups is not None:
        lookups.cases[case.reference] = case
        lookups.persons[person.ft_identifier] = person
        lookups.heads[case.id] = None
    audit.append(
        session,
        case,
        trigger=ORIENTER,
        from_state=None,
        actor=actor,
        occurred_at=ev.occurred_at,
        recorded_at=now,
        event_id=ev.event_id,
        details={"origin": str(ev.origin), "convention": f"{conv.code}/{conv.version}"},
    )
    reminders.sync(session, ctx, case, frozenset(), planned(case, conv.terms))
    return case.reference, f"{ORIENTER}: case opened in {State.REPERAGE}"


def _binome_assigned(session: Session, ctx: Context, ev: BinomeAssigned) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    _professional(session, ev.conseiller_id, Role.CONSEILLER, "conseiller")
    _professional(session, ev.referent_social_id, Role.REFERENT_SOCIAL, "référent social")
    on = _decision_day(case, paris_date(ev.occurred_at))
    msg = _transition(
        session, ctx, case, AFFECTER_BINOME, ev, on,
        conseiller_id=ev.conseiller_id, referent_social_id=ev.referent_social_id,
    )  # fmt: skip
    return case.reference, msg


def _consent_recorded(session: Session, ctx: Context, ev: ConsentRecorded) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    on = _decision_day(case, paris_date(ev.occurred_at))
    return case.reference, _transition(session, ctx, case, RECUEILLIR_ADHESION, ev, on, consent=ev.consent)


def _diagnostic_done(session: Session, ctx: Context, ev: DiagnosticDone) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    on = _decision_day(case, paris_date(ev.occurred_at))
    msg = _transition(
        session, ctx, case, POSER_DIAGNOSTIC, ev, on,
        diagnostic_kind=ev.kind,
        conseiller_opinion=ev.conseiller_opinion,
        referent_opinion=ev.referent_opinion,
        barriers=tuple(ev.barriers.codes()) if ev.barriers is not None else None,
    )  # fmt: skip
    return case.reference, msg


def _contract_signed(session: Session, ctx: Context, ev: ContractSigned) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    on = _decision_day(case, paris_date(ev.occurred_at), ev.signed_on)
    msg = _transition(session, ctx, case, SIGNER_CONTRAT, ev, on, referent_social_id=ev.referent_social_id)
    return case.reference, msg


def _renewal_decided(session: Session, ctx: Context, ev: RenewalDecided) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    on = _decision_day(case, paris_date(ev.occurred_at))
    msg = _transition(
        session, ctx, case, RENOUVELER, ev, on,
        renewal_by=ev.decided_by,
        conseiller_opinion=ev.conseiller_opinion,
        referent_opinion=ev.referent_opinion,
        renewal_months=ev.months,
    )  # fmt: skip
    return case.reference, msg


def _exit_decided(session: Session, ctx: Context, ev: ExitDecided) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    on = _decision_day(case, paris_date(ev.occurred_at), ev.effective_on)
    msg = _transition(session, ctx, case, SORTIR, ev, on, exit_reason=ev.reason, ep_validated=ev.ep_validated)
    return case.reference, msg


def _person_left(
    session: Session, ctx: Context, ev: RegistrationEnded | Radiation, reason: ExitReason
) -> tuple[str | None, str]:
    """The person is no longer a job seeker: the open case, if any, ends (seeds 000/001 art. 3.5)."""
    person = _person(session, ev.ft_identifier)
    if person is None:
        raise EventRejected(f"unknown person {ev.ft_identifier}")
    case = session.scalar(
        select(Case).where(Case.person_id == person.id, Case.state.in_(OPEN_STATES)).with_for_update(of=Case)
    )
    message = f"person {ev.ft_identifier} marked unregistered; no open case"
    reference = None
    if case is not None:
        on = _decision_day(case, paris_date(ev.occurred_at), ev.effective_on)
        message = _transition(session, ctx, case, SORTIR, ev, on, exit_reason=reason)
        reference = case.reference
    person.registered = False
    person.updated_at = ctx.clock.now()
    return reference, message


def _registration_ended(session: Session, ctx: Context, ev: RegistrationEnded) -> tuple[str | None, str]:
    return _person_left(session, ctx, ev, ExitReason.FIN_INSCRIPTION)


def _radiation(session: Session, ctx: Context, ev: Radiation) -> tuple[str | None, str]:
    return _person_left(session, ctx, ev, ExitReason.RADIATION)


def _appointment_planned(session: Session, ctx: Context, ev: AppointmentPlanned) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    if case.state not in OPEN_STATES:
        raise EventRejected(f"case {case.reference} is closed: no appointment can be planned")
    if _appointment(session, ev.appointment_id) is not None:
        raise EventRejected(f"appointment {ev.appointment_id} is already planned")
    actor = _actor(session, ev.actor)
    if ev.professional_id is not None and ev.professional_id != actor.id:
        _professional(session, ev.professional_id, None, "professional")
    appointment = Appointment(
        external_id=ev.appointment_id,
        case_id=case.id,
        kind=ev.kind,
        professional_id=ev.professional_id,
        planned_at=ev.planned_at,
        outcome=AppointmentOutcome.PREVU,
    )
    session.add(appointment)
    lookups = Lookups.of(session)
    if lookups is not None:
        lookups.appointments[ev.appointment_id] = appointment
    reminders.appointment_planned(session, ctx, case)
    return case.reference, f"appointment {ev.appointment_id} planned"


def _appointment_outcome(
    session: Session, ctx: Context, ev: AppointmentHeld | AppointmentMissed | AppointmentExcused
) -> tuple[str, str]:
    case = _case(session, ev.case_ref)
    appointment = _appointment(session, ev.appointment_id)
    if appointment is None or appointment.case_id != case.id:
        raise EventRejected(f"appointment {ev.appointment_id} is not planned for case {case.reference}")
    if appointment.outcome != AppointmentOutcome.PREVU:
        raise EventRejected(f"appointment {ev.appointment_id} is already recorded as {appointment.outcome}")
    _actor(session, ev.actor)
    appointment.outcome = OUTCOMES[ev.type]
    appointment.outcome_at = ev.occurred_at
    # Held first appointments end their reminder on its due day (`reminder_rules.moved_on`):
    # checking here would cost a query of the case's appointments for every event.
    if appointment.outcome == AppointmentOutcome.ABSENT:
        reminders.appointment_missed(session, ctx, case, appointment, paris_date(ev.occurred_at))
    return case.reference, f"appointment {ev.appointment_id}: {appointment.outcome}"


OUTCOMES = {
    "appointment_held": AppointmentOutcome.HONORE,
    "appointment_missed": AppointmentOutcome.ABSENT,
    "appointment_excused": AppointmentOutcome.EXCUSE,
}

HANDLERS: dict[str, Handler] = {
    "orientation_proposed": _orientation_proposed,
    "binome_assigned": _binome_assigned,
    "consent_recorded": _consent_recorded,
    "appointment_planned": _appointment_planned,
    "appointment_held": _appointment_outcome,
    "appointment_missed": _appointment_outcome,
    "appointment_excused": _appointment_outcome,
    "diagnostic_done": _diagnostic_done,
    "contract_signed": _contract_signed,
    "renewal_decided": _renewal_decided,
    "exit_decided": _exit_decided,
    "registration_ended": _registration_ended,
    "radiation": _radiation,
}
