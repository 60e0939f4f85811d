"""The operator's lists at the command line: rejected events, reminders and their emails,
refused actions, revues, the directory. Queries only: the commands print them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from models import AccessDenial, Case, Email, Professional, RejectedEvent, Reminder, Revue, email_reminder
from workflow.domain.vocabulary import EmailStatus


def rejected_events(
    session: Session, include_resolved: bool, limit: int
) -> tuple[Sequence[RejectedEvent], int]:
    """The newest rejected events (unresolved only, unless asked), and how many there are."""
    query = select(RejectedEvent)
    if not include_resolved:
        query = query.where(RejectedEvent.resolved_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return session.scalars(query.order_by(RejectedEvent.id.desc()).limit(limit)).all(), total


def reminders(
    session: Session,
    *,
    failed: bool = False,
    status: str | None = None,
    kind: str | None = None,
    case_reference: str | None = None,
    limit: int = 50,
) -> Sequence[Row[Reminder, str, Email]]:
    """Reminders with their case's reference and their email (None if none was written: an outer
    join), newest first."""
    query = (
        select(Reminder, Case.reference, Email)
        .join(Case, Case.id == Reminder.case_id)
        .outerjoin(email_reminder, email_reminder.c.reminder_id == Reminder.id)
        .outerjoin(Email, Email.id == email_reminder.c.email_id)
    )
    if failed:
        query = query.where(Email.status == EmailStatus.FAILED)
    if status:
        query = query.where(Reminder.status == status)
    if kind:
        query = query.where(Reminder.kind == kind)
    if case_reference:
        query = query.where(Case.reference == case_reference)
    return session.execute(query.order_by(Reminder.due_date.desc(), Reminder.id.desc()).limit(limit)).all()


def access_denials(session: Session, actor_id: str | None, limit: int) -> Sequence[AccessDenial]:
    query = select(AccessDenial).order_by(AccessDenial.occurred_at.desc()).limit(limit)
    if actor_id:
        query = query.where(AccessDenial.actor_id == actor_id)
    return session.scalars(query).all()


def revues(session: Session, month: str | None) -> Sequence[Revue]:
    query = select(Revue).order_by(Revue.month.desc(), Revue.agence)
    if month:
        query = query.where(Revue.month == month)
    return session.scalars(query).all()


def professionals(session: Session) -> Sequence[Professional]:
    query = select(Professional).order_by(Professional.departement, Professional.agence, Professional.id)
    return session.scalars(query).all()
