"""Read models for people: one case with its dates, deadlines, binôme and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Appointment, Case, Person, Professional, TransitionLog
from workflow.application.audit import chain
from workflow.application.queries import point_in_time
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.clock import PARIS, paris_date, today
from workflow.domain.conventions import Terms
from workflow.domain.deadlines import Deadline, can_still_renew, case_deadlines, maximum_end
from workflow.domain.errors import NotFound
from workflow.domain.log_replay import rebuild
from workflow.domain.records import CaseFields
from workflow.domain.reminder_rules import Planned, planned
from workflow.domain.vocabulary import AppointmentKind, AppointmentOutcome


def find_case(session: Session, ref: str) -> Case:
    """A case by its reference, or the open (else latest) case of a France Travail identifier."""
    case = session.scalar(select(Case).where(Case.reference == ref))
    if case is None:
        case = session.scalar(
            select(Case)
            .join(Person)
            .where(Person.ft_identifier == ref)
            .order_by(Case.exit_date.is_not(None), Case.orientation_date.desc())
            .limit(1)
        )
    if case is None:
        raise NotFound(f"aucun dossier de référence ou d'identifiant France Travail {ref!r}")
    return case


def case_view(session: Session, ctx: Context, ref: str, at: date | None = None) -> dict[str, Any]:
    """The case now, or (`at`) as it stood at the end of that day, rebuilt from its log rows in
    effect by then (`point_in_time`): state, binôme, dates, the appointments fixed by then, the
    deadlines and reminders then pending."""
    stored = find_case(session, ref)
    appointments = list(
        session.scalars(
            select(Appointment).where(Appointment.case_id == stored.id).order_by(Appointment.planned_at)
        )
    )
    history = list(
        session.scalars(
            select(TransitionLog).where(TransitionLog.case_id == stored.id).order_by(TransitionLog.seq)
        )
    )
    broken = chain.first_break(history)
    case: CaseFields = stored
    day, problems = today(ctx.clock), []
    outcomes = {a.id: a.outcome for a in appointments}
    if at is not None:
        rebuilt = rebuild(history, point_in_time.terms_of(session, ctx), until=at)  # the rows read above
        if rebuilt.case is None:
            raise NotFound(f"le dossier {stored.reference} n'était pas encore ouvert le {labels.day(at)}")
        case, day, problems = rebuilt.case, at, rebuilt.problems
        applied = {row.seq for row in rebuilt.applied}
        history = [row for row in history if row.seq in applied]
        by_then = point_in_time.end_of(at)
        appointments = [a for a in appointments if (a.booked_at or a.planned_at) < by_then]
        outcomes = {
            a.id: a.outcome
            if a.outcome_at is not None and a.outcome_at < by_then
            else AppointmentOutcome.PREVU
            for a in appointments
        }
    terms, version_id = ctx.terms(session, case, day)
    names = _names(session, {case.conseiller_id, case.referent_social_id, case.orienteur_id})
    max_end = maximum_end(case, terms)
    return {
        "reference": case.reference,
        "at": _d(at),
        "state": case.state,
        "person": {
            "ft_identifier": stored.person.ft_identifier,
            "status": stored.person.status,
            "registered": stored.person.registered if at is None else None,  # not in the log
            "agence": case.agence,
        },
        "convention": {
            "code": case.convention_code,
            "version_id": version_id,
            "pinned": case.convention_version_id is not None,
        },
        "binome": {
            "conseiller": names.get(case.conseiller_id or ""),
            "referent_social": names.get(case.referent_social_id or ""),
        },
        "orienteur": names.get(case.orienteur_id),
        "origin": case.origin,
        "consent": case.consent,
        "diagnostic": {"kind": case.diagnostic_kind, "date": _d(case.diagnostic_date)},
        "dates": {
            "orientation": _d(case.orientation_date),
            "contract_start": _d(case.contract_start),
            "contract_end": _d(case.contract_end),
            "maximum_end": _d(max_end),
            "renewal": _d(case.renewal_date),
            "exit": _d(case.exit_date),
            "entry_acted": _d(case.entry_acted_on),  # by the revue de portefeuille
            "exit_acted": _d(case.exit_acted_on),
        },
        "renewals": case.renewal_count,
        "can_still_renew": can_still_renew(case, terms),
        "exit_reason": case.exit_reason,
        "deadlines": [
            {"name": d.name, "due": d.due.isoformat(), "status": d.status(day), "source": d.source}
            for d in deadlines_of(case, terms, appointments)
        ],
        "appointments": [
            {
                "id": a.external_id,
                "kind": a.kind,
                "planned_at": a.planned_at.astimezone(PARIS).isoformat(timespec="minutes"),
                "outcome": outcomes[a.id],
            }
            for a in appointments
        ],
        "pending_reminders": [
            {"kind": p.kind.value, "due": p.due.isoformat()} for p in _pending(case, terms, at)
        ],
        "history": [
            {
                "seq": row.seq,
                "when": row.occurred_at.astimezone(PARIS).isoformat(timespec="minutes"),
                "trigger": row.trigger,
                "from": row.from_state,
                "to": row.to_state,
                "actor": f"{row.actor_id} ({labels.word(labels.ROLES, row.actor_role)})",
                "reason": row.reason,
                "event_id": row.event_id,
            }
            for row in history
        ],
        "chain": "intact" if broken is None else f"BROKEN at {broken}",
        "replay_problems": problems,
    }


def _pending(case: CaseFields, terms: Terms, at: date | None) -> list[Planned]:
    """The reminders the caseworkers would still hear of, by day: now, those no scan has looked at
    yet; at a past day, those dated after it."""
    if at is None:
        since = case.next_reminder_on
        due = [] if since is None else [p for p in planned(case, terms) if p.due >= since]
    else:
        due = [p for p in planned(case, terms) if p.due > at]
    return sorted(due, key=lambda p: (p.due, p.kind))


def appointments_by_case(session: Session, case_ids: Sequence[int]) -> dict[int, list[Appointment]]:
    """The appointments of several cases in one query (the lists that show each case's deadlines)."""
    booked: dict[int, list[Appointment]] = {case_id: [] for case_id in case_ids}
    if booked:
        for appointment in session.scalars(select(Appointment).where(Appointment.case_id.in_(list(booked)))):
            booked[appointment.case_id].append(appointment)
    return booked


def deadlines_of(case: CaseFields, terms: Terms, appointments: Sequence[Appointment]) -> list[Deadline]:
    """The case's deadlines, knowing its appointments (any planned; the follow-up ones)."""
    return case_deadlines(
        case,
        terms,
        first_appointment_planned=bool(appointments),
        follow_up_planned=_followed_up(case, appointments),
    )


def _followed_up(case: CaseFields, appointments: Sequence[Appointment]) -> bool:
    """A social and an emploi appointment planned on or after the contract's start."""
    if case.contract_start is None:
        return False
    since = case.contract_start
    kinds = {a.kind for a in appointments if paris_date(a.planned_at) >= since}
    return {AppointmentKind.SOCIAL, AppointmentKind.EMPLOI} <= kinds


def _names(session: Session, ids: set[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    rows = session.scalars(select(Professional).where(Professional.id.in_(wanted)))
    return {p.id: f"{p.name} ({p.id})" for p in rows}


def _d(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
