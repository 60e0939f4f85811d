"""Reminders planned inside the transaction of each decision, and told at once when missed.

`sync`, called by `deciding`, moves the case's next reminder day (`reminder_rules.next_due`):
the plan is derived from the case, so a transition writes no reminder row and cancelling one
is free. A first appointment missed is told at once (`tell_missed_first_appointment`). The
daily scan, which writes the reminders when they fall due, is `daily_scan.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Appointment, Case, Email, Professional, Reminder
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import paris_date
from workflow.domain.reminder_rules import Facts, Planned, missed_kind, next_due, planned, recipients
from workflow.domain.vocabulary import AppointmentOutcome, EmailStatus, ReminderStatus, Role

SCAN_BATCH = 5_000  # cases due handled per round: ~5 MB of rows, a few hundred ms on PostgreSQL


def sync(case: Case, before: frozenset[Planned], after: frozenset[Planned]) -> None:
    """Move the case's next reminder day to what its new plan calls for."""
    case.next_reminder_on = next_due(before, after, case.next_reminder_on)


def upcoming(session: Session, ctx: Context, case: Case) -> list[Planned]:
    """The reminders the case calls for that no scan has looked at yet, by day: what the
    caseworkers will hear of, if the case does not move on first."""
    if case.next_reminder_on is None:
        return []
    terms, _ = ctx.terms(session, case, paris_date(ctx.clock.now()))
    return sorted(p for p in planned(case, terms) if p.due >= case.next_reminder_on)


def tell_missed_first_appointment(
    uow: UnitOfWork, ctx: Context, case: Case, appointment: Appointment, day: date
) -> None:
    """seed 004 art. 2 e: a first appointment missed is told « sans délai »: the reminder and its
    email are written with the event, and the email leaves right after the commit. `day` is
    when the absence was recorded."""
    kind = missed_kind(appointment.kind)
    if kind is None:
        return
    if uow.reminders.held_before(case.id, appointment.kind):
        return  # not the first appointment of its kind
    if uow.reminders.written(case.id, kind, day):
        return  # the same first appointment missed twice the same day: one reminder
    now = ctx.clock.now()
    reminder = Reminder(case_id=case.id, kind=kind.value, due_date=day, status=ReminderStatus.QUEUED.value,
                        created_at=now, closed_at=now)  # fmt: skip
    person = uow.people.by_id(case.person_id)
    to = recipients(
        kind, case, person_status=person.status, referents_ag=referents_ag(uow.session, [case])[case.id]
    )
    uow.reminders.add(reminder)  # written now: the email's key names the reminder
    email = email_row(f"reminder:{reminder.id}", to, now)
    email.reminders.append(reminder)
    uow.emails.add(email)


def email_row(key: str, to: Sequence[str], now: Any) -> Email:
    return Email(key=key, recipients=list(to), status=EmailStatus.PENDING.value, attempts=0, created_at=now)


# --- facts the rules need -----------------------------------------------------------------


def facts(session: Session, cases: Sequence[Any]) -> dict[int, Facts]:
    """Appointment facts of the given cases (Case objects or rows with id and contract_start)."""
    starts = {c.id: c.contract_start for c in cases}
    planned_any: set[int] = set()
    held: dict[int, set[str]] = defaultdict(set)
    ids = list(starts)
    for lo in range(0, len(ids), SCAN_BATCH):
        query = select(
            Appointment.case_id, Appointment.kind, Appointment.outcome, Appointment.planned_at
        ).where(Appointment.case_id.in_(ids[lo : lo + SCAN_BATCH]))
        for case_id, kind, outcome, planned_at in session.execute(query):
            planned_any.add(case_id)
            start = starts[case_id]
            if outcome == AppointmentOutcome.HONORE and start is not None and paris_date(planned_at) >= start:
                held[case_id].add(kind)
    return {i: Facts(i in planned_any, frozenset(held[i])) for i in ids}


def referents_ag(session: Session, cases: Sequence[Any]) -> dict[int, list[str]]:
    """The Département's accompagnement-global referents of each case's territory (seed 004 art.
    2 e): those of the territory of the case's référent social, else those of the whole
    département (no territory)."""
    social_ids = {c.referent_social_id for c in cases if c.referent_social_id}
    territory: dict[str, str | None] = {}
    if social_ids:
        query = select(Professional.id, Professional.territory).where(Professional.id.in_(social_ids))
        territory = {pid: place for pid, place in session.execute(query)}
    departements = {c.convention_code for c in cases}
    by_place: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    ag = select(Professional.id, Professional.departement, Professional.territory).where(
        Professional.role == Role.REFERENT_AG, Professional.active.is_(True),
        Professional.departement.in_(departements),
    ).order_by(Professional.id)  # fmt: skip
    for pid, departement, place in session.execute(ag):
        by_place[(departement, place)].append(pid)
    out: dict[int, list[str]] = {}
    for c in cases:
        local = by_place.get((c.convention_code, territory.get(c.referent_social_id or "")))
        out[c.id] = local or by_place.get((c.convention_code, None), [])
    return out
