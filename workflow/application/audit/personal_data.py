"""The person's rights over their data: everything stored about them, and its retention.

All seeds, article on déontologie / RGPD: the person has free access to their data
(« droit d'accès »), kept no longer than needed. So:
- `export` gathers every row about one person, table by table, and nothing about anyone else
  (a revue's tableau is cut to their rows; a rejected event is theirs if it names their case or
  their identifier). `TABLES` says, for every table of the schema, whether it holds rows about
  a person; a test fails if a new table is in neither list.
- `retention` pseudonymises the persons whose every case closed more than the retention ago:
  the France Travail identifier and the appointments' external ids become random pseudonyms,
  the barriers are erased and the rejected payloads that named them are reduced to their event
  id. The transition log is left untouched: it never holds a name, an identifier of the person
  or a barrier, only ids (case references, professional ids), so `audit verify` stays green.
  Nor does retention add a log row: the log keeps the decisions of a case's people, and an
  erasure decides nothing (docs/supervising.md); the person's `pseudonymised_at` records it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from models import (
    AccessDenial,
    Appointment,
    Case,
    Email,
    InboxEvent,
    Person,
    ProcessedEvent,
    RejectedEvent,
    Reminder,
    Revue,
    RevueDecision,
    TransitionLog,
    email_reminder,
)
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.dates import add_months
from workflow.domain.errors import NotFound
from workflow.domain.lifecycle import OPEN_STATES

# Every table, and whether `export` gathers rows about the person from it.
ABOUT_A_PERSON = (
    "person", "case_file", "appointment", "transition_log", "reminder", "email", "email_reminder",
    "processed_event", "rejected_event", "inbox_event", "access_denial", "revue", "revue_decision",
)  # fmt: skip
NOT_ABOUT_A_PERSON = {
    "professional": "the directory of professionals (their ids appear in the person's rows)",
    "convention_version": "the conventions' figures",
    "scheduled_run": "which scheduled job ran when",
    "audit_seal": "the daily heads of the log: case references and hashes, no content",
    "web_account": "the professionals' sign-in (password hashes)",
    "api_token": "the calling systems' tokens (hashes)",
    "calendar_feed": "the professionals' calendar addresses (hashes of their tokens)",
    "web_session": "the professionals' console sessions (hashes of their ids)",
    "sign_in_failure": "failed sign-ins to the console: professional id, client address, time",
    "sign_in_client": "the addresses professionals signed in to the console from, and when last",
}
DEFAULT_RETENTION_MONTHS = 24
PSEUDONYM = "pseudo-"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(session: Session, query: Select[Any]) -> list[dict[str, Any]]:
    out = []
    for obj in session.scalars(query):
        out.append({c.name: _plain(getattr(obj, c.key)) for c in obj.__table__.columns})
    return out


def find_person(session: Session, ref: str) -> Person:
    """By France Travail identifier, internal id, or the reference of one of their cases."""
    person = session.scalar(select(Person).where(Person.ft_identifier == ref))
    if person is None and ref.isdigit():
        person = session.get(Person, int(ref))
    if person is None:
        person = session.scalar(
            select(Person).join(Case, Case.person_id == Person.id).where(Case.reference == ref)
        )
    if person is None:
        raise NotFound(
            f"aucune personne d'identifiant France Travail, de numéro ou de référence de dossier {ref!r}"
        )
    return person


def export(session: Session, person: Person) -> dict[str, Any]:
    """Everything stored about the person, table by table, as JSON-ready data."""
    cases = session.scalars(select(Case).where(Case.person_id == person.id).order_by(Case.id)).all()
    ids = [c.id for c in cases]
    refs = [c.reference for c in cases]
    reminders = select(Reminder.id).where(Reminder.case_id.in_(ids))
    emails = select(email_reminder.c.email_id).where(email_reminder.c.reminder_id.in_(reminders))
    data: dict[str, Any] = {
        "person": _rows(session, select(Person).where(Person.id == person.id)),
        "case_file": _rows(session, select(Case).where(Case.id.in_(ids))),
        "appointment": _rows(session, select(Appointment).where(Appointment.case_id.in_(ids))),
        "transition_log": _rows(
            session,
            select(TransitionLog)
            .where(TransitionLog.case_id.in_(ids))
            .order_by(TransitionLog.case_id, TransitionLog.seq),
        ),
        "reminder": _rows(session, select(Reminder).where(Reminder.case_id.in_(ids))),
        "email": _rows(session, select(Email).where(Email.id.in_(emails)).order_by(Email.id)),
        "email_reminder": [
            {"email_id": e, "reminder_id": r}
            for e, r in session.execute(
                select(email_reminder).where(email_reminder.c.reminder_id.in_(reminders))
            )
        ],
        "processed_event": _rows(
            session, select(ProcessedEvent).where(ProcessedEvent.case_reference.in_(refs))
        ),
        "rejected_event": _rows(
            session,
            select(RejectedEvent).where(
                or_(
                    RejectedEvent.case_reference.in_(refs),
                    RejectedEvent.raw.contains(json.dumps(person.ft_identifier)),
                )
            ),
        ),
        "inbox_event": _rows(
            session,
            select(InboxEvent)
            .where(
                or_(
                    InboxEvent.case_reference.in_(refs),
                    InboxEvent.person_key == person.ft_identifier,
                    InboxEvent.payload.contains(json.dumps(person.ft_identifier)),
                )
            )
            .order_by(InboxEvent.id),
        ),
        "access_denial": _rows(session, select(AccessDenial).where(AccessDenial.case_reference.in_(refs))),
        "revue": _revues(session, refs),
        "revue_decision": _rows(session, select(RevueDecision).where(RevueDecision.case_reference.in_(refs))),
    }
    return {name: data[name] for name in ABOUT_A_PERSON}


def _revues(session: Session, refs: list[str]) -> list[dict[str, Any]]:
    """The revues that listed one of the cases, cut to those rows: a tableau also lists others."""
    wanted = set(refs)
    out = []
    agencies = select(Case.agence).where(Case.reference.in_(refs))
    for revue in session.scalars(select(Revue).where(Revue.agence.in_(agencies)).order_by(Revue.month)):
        rows = {
            section: [row for row in content if row.get("dossier") in wanted]
            for section, content in revue.content.items()
        }
        rows = {section: kept for section, kept in rows.items() if kept}
        if rows:
            out.append({"id": revue.id, "agence": revue.agence, "month": revue.month,
                        "held_on": revue.held_on.isoformat(), "rows": rows})  # fmt: skip
    return out


@dataclass(frozen=True)
class RetentionReport:
    cutoff: date
    persons: int
    cases: int
    appointments: int
    payloads: int  # rejected events and inbox rows reduced to their event id


def expired(session: Session, cutoff: date) -> list[Person]:
    """Persons not yet pseudonymised whose cases all closed before the cutoff."""
    open_or_recent = (
        select(Case.person_id)
        .where(or_(Case.state.in_(OPEN_STATES), Case.exit_date.is_(None), Case.exit_date >= cutoff))
    )  # fmt: skip
    has_case = select(Case.person_id)
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.pseudonymised_at.is_(None), Person.id.in_(has_case), Person.id.not_in(open_or_recent)
            )
            .order_by(Person.id)
        )
    )


def retention(uow: UnitOfWork, ctx: Context, months: int, dry_run: bool = False) -> RetentionReport:
    """Pseudonymise the persons whose every case closed more than `months` ago (all at once)."""
    today = ctx.clock.now().date()
    cutoff = add_months(today, -months)
    with uow:
        persons = expired(uow.session, cutoff)
        counts = [0, 0, 0]
        for person in persons:
            for n, done in enumerate(_pseudonymise(uow.session, ctx, person)):
                counts[n] += done
        report = RetentionReport(cutoff, len(persons), *counts)
        if not dry_run:
            uow.commit()
    return report


def _pseudonymise(session: Session, ctx: Context, person: Person) -> tuple[int, int, int]:
    identifier = json.dumps(person.ft_identifier)
    pseudonym = PSEUDONYM + secrets.token_hex(12)
    cases = session.scalars(select(Case).where(Case.person_id == person.id)).all()
    refs = [c.reference for c in cases]
    for case in cases:
        case.barriers = []
        case.other_barrier_agreed = False
    appointments = session.scalars(
        select(Appointment).where(Appointment.case_id.in_([c.id for c in cases]))
    ).all()
    for appointment in appointments:
        appointment.external_id = PSEUDONYM + secrets.token_hex(12)
    rejected = session.scalars(
        select(RejectedEvent).where(
            or_(RejectedEvent.case_reference.in_(refs), RejectedEvent.raw.contains(identifier))
        )
    ).all()
    for row in rejected:
        row.raw = json.dumps({"event_id": row.event_id, "type": row.type, "removed": "retention"})
        row.reason = row.reason.replace(person.ft_identifier, pseudonym)
    inbox = session.scalars(
        select(InboxEvent).where(
            or_(
                InboxEvent.case_reference.in_(refs),
                InboxEvent.payload.contains(identifier),
                InboxEvent.person_key == person.ft_identifier,
            )
        )
    ).all()
    for entry in inbox:
        entry.payload = json.dumps({"event_id": entry.event_id, "removed": "retention"})
        entry.reason = entry.reason and entry.reason.replace(person.ft_identifier, pseudonym)
        if entry.person_key == person.ft_identifier:  # the order key is the person's identifier
            entry.person_key = pseudonym
    person.ft_identifier = pseudonym
    person.pseudonymised_at = ctx.clock.now()
    return len(cases), len(appointments), len(rejected) + len(inbox)
