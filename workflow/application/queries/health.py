"""Figures for `accompagnement status`: what the database saw in the last hour, and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Email, ProcessedEvent, RejectedEvent
from workflow.domain.clock import Clock
from workflow.domain.vocabulary import EmailStatus


@dataclass(frozen=True)
class Health:
    applied_last_hour: int
    rejected_last_hour: int
    unresolved_rejections: int
    emails_unsent: int  # pending or being sent
    emails_failed: int


def database_health(session: Session, clock: Clock) -> Health:
    applied, rejected = database_counts_since(session, clock.now() - timedelta(hours=1))
    unresolved = session.scalar(select(func.count()).where(RejectedEvent.resolved_at.is_(None)))
    query = (
        select(Email.status, func.count())
        .where(Email.status != EmailStatus.SENT)  # the sent ones are history, not health
        .group_by(Email.status)
    )
    emails = {status: count for status, count in session.execute(query)}
    unsent = emails.get(EmailStatus.PENDING, 0) + emails.get(EmailStatus.SENDING, 0)
    return Health(applied, rejected, unresolved or 0, unsent, emails.get(EmailStatus.FAILED, 0))


def database_counts_since(session: Session, since: datetime) -> tuple[int, int]:
    """Events applied and rejected since an instant (by every producer, not only one file)."""
    applied = session.scalar(select(func.count()).where(ProcessedEvent.applied_at >= since))
    rejected = session.scalar(select(func.count()).where(RejectedEvent.rejected_at >= since))
    return applied or 0, rejected or 0
