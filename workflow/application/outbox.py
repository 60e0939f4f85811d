"""The email outbox: claim an email for sending, record the outcome, find what was left behind.

Sending itself (SMTP, or `.eml` files) is the tasks' business; this module only keeps the
promise that an email is sent once. A sender first *claims* the row (`pending` → `sending`,
with a lease), so that a redelivered task or a second worker finds nothing to do; success marks
it `sent` for good. A sender that dies after claiming leaves the row `sending`: once the lease
is over the sweep (`unsent`) hands it out again. Failures go back to `pending` for a retry with
backoff, and to `failed` after MAX_ATTEMPTS, where `reminders list --failed` shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models import Case, Email, Professional, Reminder
from workflow.adapters import revue_files
from workflow.adapters.email_rendering import ReminderLine, Rendered, render, render_revue
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import paris_date
from workflow.domain.deadlines import can_still_renew
from workflow.domain.vocabulary import EmailStatus, ReminderKind

LEASE = timedelta(minutes=10)  # a send takes seconds; a claim older than this was abandoned
MAX_ATTEMPTS = 5  # with the tasks' backoff, about half an hour of SMTP outage before `failed`
STALE = timedelta(minutes=5)  # a pending email older than this missed its after-commit queueing


@dataclass(frozen=True)
class Draft:
    """What a sender needs, read in the claiming transaction."""

    email_id: int
    key: str
    to: list[tuple[str, str]]  # (name, address)
    rendered: Rendered
    attempt: int
    attachments: list[Attachment] = field(default_factory=list)
    # When it was written (by the service's clock): its `Date:` header, the simulated day in
    # the demo; a resend keeps it, as RFC 5322 dates a message when it was complete.
    written_at: datetime | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mimetype: str  # "type/subtype"


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def claim(uow: UnitOfWork, ctx: Context, email_ids: Sequence[int]) -> list[Draft]:
    """Take emails for sending, in one transaction, in the order given; leave out those sent,
    failed, gone or being sent by another. One transaction for a whole group, not two per
    email: the demo's 4 900 emails spent most of their time committing."""
    with uow:
        now = ctx.clock.now()
        emails = uow.emails.with_contents(uow.emails.claim(email_ids, now, LEASE))
        # Held here: the identity map keeps objects weakly, a case read and dropped is read again.
        cases = uow.emails.cases({r.case_id for e in emails.values() for r in e.reminders})
        people = uow.emails.active_recipients([r for e in emails.values() for r in e.recipients])
        drafts = []
        for email_id in email_ids:
            email = emails.get(email_id)
            if email is None:
                continue
            to = _addresses(people, email.recipients)
            if not to:
                _finish(email, EmailStatus.FAILED, now, "no active recipient with an email address")
                continue
            drafts.append(_draft(uow.session, ctx, email, to, cases))
        uow.commit()
        return drafts


def _draft(
    session: Session, ctx: Context, email: Email, to: list[tuple[str, str]], cases: dict[int, Case]
) -> Draft:
    attachments: list[Attachment] = []
    if email.revue is not None:
        rendered = render_revue(email.revue)
        stem = revue_files.file_stem(email.revue)
        attachments = [
            Attachment(f"{stem}.xlsx", revue_files.xlsx_bytes(email.revue), XLSX),
            Attachment(f"{stem}.csv", revue_files.csv_text(email.revue).encode(), "text/csv"),
        ]
    else:
        day = paris_date(email.created_at)
        rendered = render(email.key, _items(session, ctx, email.reminders, cases, day), day)
    return Draft(email.id, email.key, to, rendered, email.attempts, attachments, email.created_at)


def _addresses(people: dict[str, Professional], recipients: list[str]) -> list[tuple[str, str]]:
    """(name, address) of the recipients: active professionals by id, and plain addresses."""
    out = []
    for recipient in recipients:
        if "@" in recipient:
            out.append(("", recipient))
        elif recipient in people and people[recipient].email:
            out.append((people[recipient].name, people[recipient].email))
    return out


def _items(
    session: Session, ctx: Context, reminders: Sequence[Reminder], cases: dict[int, Case], day: date
) -> list[ReminderLine]:
    out = []
    for reminder in reminders:
        case = cases[reminder.case_id]
        terms, _ = ctx.terms(session, case, day)
        kind = ReminderKind(reminder.kind)
        figure = {
            ReminderKind.CONVOCATION: terms.convocation_days,
            ReminderKind.ENTREE: terms.entry_target_days,
            ReminderKind.RDV_NON_TENU: terms.first_appointment_days,
        }.get(kind)
        out.append(
            ReminderLine(kind, case.reference, reminder.due_date, case.orientation_date, case.contract_start,
                 case.contract_end, can_still_renew(case, terms), figure)
        )  # fmt: skip
    return out


def mark_sent(uow: UnitOfWork, ctx: Context, email_ids: Sequence[int]) -> None:
    """Record emails as sent for good, in one transaction."""
    with uow:
        uow.emails.mark_sent(email_ids, ctx.clock.now())
        uow.commit()


def mark_failure(uow: UnitOfWork, ctx: Context, email_id: int, error: str) -> bool:
    """Record a failed attempt; True if another attempt will be made, False once `failed`."""
    with uow:
        email = uow.emails.get(email_id)
        final = email.attempts >= MAX_ATTEMPTS
        status = EmailStatus.FAILED if final else EmailStatus.PENDING
        _finish(email, status, ctx.clock.now(), error[:500])
        uow.commit()
        return not final


def _finish(email: Email, status: EmailStatus, now: datetime, error: str | None) -> None:
    email.status = status.value
    email.claimed_at = None
    if status == EmailStatus.SENT:
        email.sent_at = now
    email.last_error = error


def unsent(session: Session, ctx: Context) -> list[int]:
    """Emails whose queueing after commit was lost, or whose sender died: to queue again."""
    now = ctx.clock.now()
    query = select(Email.id).where(
        or_(
            and_(Email.status == EmailStatus.PENDING, Email.created_at < now - STALE),
            and_(Email.status == EmailStatus.SENDING, Email.claimed_at < now - LEASE),
        )
    )
    return list(session.scalars(query.order_by(Email.id)))


def retry_failed(uow: UnitOfWork, email_ids: Sequence[int] | None) -> list[int]:
    """Put failed emails (all of them if `email_ids` is None) back in the outbox."""
    with uow:
        emails = uow.emails.failed(email_ids)
        for email in emails:
            email.status, email.attempts = EmailStatus.PENDING.value, 0
        uow.commit()
        return [e.id for e in emails]
