"""What a simulated year left in the database, for the demo's summary: counts from the audit
log, the cases and the outbox, the rejections grouped by rule, a renewed case to explore and the
revues held."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, Email, RejectedEvent, Reminder, Revue, RevueDecision, TransitionLog
from workflow.domain.clock import PARIS
from workflow.domain.lifecycle import OPEN_STATES, RENOUVELER, SIGNER_CONTRAT, SORTIR, UNDER_CONTRACT
from workflow.domain.vocabulary import ReminderStatus


def year_figures(session: Session, start: date, end: date) -> dict[str, Any]:
    """What happened between start (inclusive) and end (exclusive), from the audit log."""
    since = datetime.combine(start, datetime.min.time(), PARIS).astimezone(UTC)
    until = datetime.combine(end, datetime.min.time(), PARIS).astimezone(UTC)
    in_year = (TransitionLog.occurred_at >= since, TransitionLog.occurred_at < until)
    by_trigger = _counts(session, TransitionLog.trigger, *in_year)
    exits = _counts(session, TransitionLog.reason, *in_year, TransitionLog.trigger == SORTIR)
    signed = session.execute(
        select(Case.orientation_date, Case.contract_start).where(
            Case.contract_start >= start, Case.contract_start < end
        )
    ).all()
    delays = [(contract - oriented).days for oriented, contract in signed if contract is not None]
    open_states = _counts(session, Case.state, Case.state.in_(OPEN_STATES))
    loads = _counts(session, Case.conseiller_id, Case.state.in_(UNDER_CONTRACT))
    due_in_year = (Reminder.due_date >= start, Reminder.due_date < end)
    sent = _counts(session, Reminder.kind, *due_in_year, Reminder.status == ReminderStatus.QUEUED)
    cancelled = _counts(session, Reminder.kind, *due_in_year, Reminder.status == ReminderStatus.CANCELLED)
    emails = _counts(session, Email.status)
    return {
        "period": f"{start.isoformat()} .. {(end - timedelta(days=1)).isoformat()}",
        "orientations": by_trigger.get("orienter", 0),
        "entries": by_trigger.get(SIGNER_CONTRAT, 0),
        "renewals": by_trigger.get(RENOUVELER, 0),
        "exits": sum(exits.values()),
        "exits_by_reason": dict(exits.most_common()),
        "average_entry_delay_days": round(sum(delays) / len(delays), 1) if delays else None,
        "entries_within_target": sum(1 for d in delays if d <= 21),
        "open_at_end": dict(sorted(open_states.items())),
        "portfolio_by_conseiller": dict(sorted(loads.items())),
        "reminders_by_kind": dict(sorted(sent.items())),
        "reminders_cancelled_by_kind": dict(sorted(cancelled.items())),
        "emails_by_status": dict(sorted(emails.items())),
    }


def _counts(session: Session, column: Any, *where: Any) -> Counter[str]:
    """Rows per value of `column` among those matching `where`."""
    rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return Counter({str(value): count for value, count in rows})


def rejections_by_rule(session: Session) -> Counter[str]:
    """The rejected events counted by the rule that refused them."""
    return Counter(_rule(reason) for reason in session.scalars(select(RejectedEvent.reason)))


def renewed_case(session: Session) -> tuple[str, date | None] | None:
    """The latest renewed case (its reference and renewal day), for the hints of the summary."""
    row = session.execute(
        select(Case.reference, Case.renewal_date)
        .where(Case.renewal_count == 1)
        .order_by(Case.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def revues_held(session: Session) -> tuple[int, int]:
    """How many revues were produced, and how many entries and exits they acted."""
    revues = session.scalar(select(func.count()).select_from(Revue)) or 0
    acted = session.scalar(select(func.count()).select_from(RevueDecision)) or 0
    return revues, acted


def _rule(reason: str) -> str:
    """Group rejection messages by their rule, dropping case-specific values."""
    head = reason.split(" » : ", 1)[-1]  # after « the transition » dans l'état « its state »
    for stop in (" ;", ";", " (", ","):
        head = head.split(stop)[0]
    return head.strip()
