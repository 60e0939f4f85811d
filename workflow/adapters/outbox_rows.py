"""The outbox's rows, reached through the unit of work: the emails (`uow.emails`) and the
reminders a decision writes at once (`uow.reminders`). An email added here is announced to the
entry point's hook once the transaction has committed (`unit_of_work.register_email`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from models import Appointment, Case, Email, Professional, Reminder
from workflow.adapters.email_registry import register_email
from workflow.domain.vocabulary import AppointmentOutcome, EmailStatus


class Emails:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, email: Email) -> None:
        """Write the email, announced after commit."""
        self.session.add(email)
        register_email(self.session, email)

    def get(self, email_id: int) -> Email:
        return self.session.get_one(Email, email_id)

    def claim(self, email_ids: Sequence[int], now: datetime, lease: timedelta) -> set[int]:
        """Mark for sending those of `email_ids` pending, or being sent under a lease run out;
        return their ids."""
        return set(
            self.session.scalars(
                update(Email)
                .where(
                    Email.id.in_(list(email_ids)),
                    or_(
                        Email.status == EmailStatus.PENDING,
                        and_(Email.status == EmailStatus.SENDING, Email.claimed_at < now - lease),
                    ),
                )
                .values(status=EmailStatus.SENDING.value, claimed_at=now, attempts=Email.attempts + 1)
                .returning(Email.id)
            )
        )

    def with_contents(self, email_ids: Iterable[int]) -> dict[int, Email]:
        """The emails with their reminders and revue, read at once."""
        query = (
            select(Email)
            .where(Email.id.in_(list(email_ids)))
            .options(selectinload(Email.reminders), selectinload(Email.revue))
        )
        return {e.id: e for e in self.session.scalars(query)}

    def cases(self, case_ids: Iterable[int]) -> dict[int, Case]:
        """The cases the emails' reminders are about."""
        return {c.id: c for c in self.session.scalars(select(Case).where(Case.id.in_(list(case_ids))))}

    def active_recipients(self, recipients: Sequence[str]) -> dict[str, Professional]:
        """The active professionals among the recipients (ids; addresses hold an @)."""
        ids = {r for r in recipients if "@" not in r}
        query = select(Professional).where(Professional.id.in_(ids), Professional.active.is_(True))
        return {p.id: p for p in self.session.scalars(query)}

    def mark_sent(self, email_ids: Sequence[int], now: datetime) -> None:
        self.session.execute(
            update(Email)
            .where(Email.id.in_(list(email_ids)))
            .values(status=EmailStatus.SENT.value, claimed_at=None, sent_at=now, last_error=None)
        )

    def failed(self, email_ids: Sequence[int] | None) -> list[Email]:
        """The failed emails (all of them if `email_ids` is None)."""
        query = select(Email).where(Email.status == EmailStatus.FAILED)
        if email_ids is not None:
            query = query.where(Email.id.in_(email_ids))
        return list(self.session.scalars(query))


class Reminders:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, reminder: Reminder) -> None:
        """Write the reminder now: its id names its email."""
        self.session.add(reminder)
        self.session.flush()

    def written(self, case_id: int, kind: str, due: date) -> bool:
        """Whether the case has this reminder for this day already."""
        query = select(Reminder.id).where(
            Reminder.case_id == case_id, Reminder.kind == kind, Reminder.due_date == due
        )
        return self.session.scalar(query) is not None

    def held_before(self, case_id: int, appointment_kind: str) -> bool:
        """Whether an appointment of this kind was held on the case already."""
        query = select(Appointment.id).where(
            Appointment.case_id == case_id,
            Appointment.kind == appointment_kind,
            Appointment.outcome == AppointmentOutcome.HONORE,
        )
        return self.session.scalar(query.limit(1)) is not None
