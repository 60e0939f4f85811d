"""Reminders due to caseworkers and the emails that carry them (the outbox).

A `reminder` row is one thing a caseworker was told about, or was not because the case had moved
on, on one day. The plan itself is not stored: `workflow.domain.reminder_rules.schedule` derives
it from the case, and the case row holds the day of its next reminder. The daily scan writes the
row when that day comes: `queued` once an email carries it (`email_reminder` links them: one
email per reminder, or one digest per caseworker and day carrying several), or `cancelled` with
why. Its key (case, kind, due date) is unique, so a reminder is written once, however many times
a case is replayed or the scan runs. A first appointment missed is written `queued` at once.

An `email` row is the outbox: written in the same transaction as what caused it, sent by a task
queued only after that transaction commits. Its status moves `pending` → `sending` (claimed by
one worker, for a lease) → `sent`, or `failed` once the SMTP retries are spent; a failed email is
listed by `accompagnement reminders list --failed` and sent again by `reminders retry`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.revues import Revue

# Which reminders an email carries. No foreign keys, on purpose: the rows are written in one
# place (`reminders.planning`), in the transaction that writes both parents, and neither parent is
# ever deleted; the two per-row referential checks made this insert five times slower and were a
# quarter of the daily scan's time (bench/reminders.py).
email_reminder = Table(
    "email_reminder",
    Base.metadata,
    Column("email_id", Integer, primary_key=True),
    Column("reminder_id", Integer, primary_key=True, index=True),
)


class Email(Base):
    __tablename__ = "email"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "reminder:<id>" or "digest:<day>:<professional>": one email per reminder, or per
    # caseworker and day, whatever the number of scans.
    key: Mapped[str] = mapped_column(String(96), unique=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)  # professional ids, or addresses (with an @)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An email carries reminders, or a revue de portefeuille (its tableau attached).
    revue_id: Mapped[int | None] = mapped_column(ForeignKey("revue.id"))
    revue: Mapped[Revue | None] = relationship()

    reminders: Mapped[list[Reminder]] = relationship(
        secondary=email_reminder,
        primaryjoin=lambda: Email.id == email_reminder.c.email_id,
        secondaryjoin=lambda: Reminder.id == email_reminder.c.reminder_id,
        order_by="Reminder.id",
    )

    __table_args__ = (
        # The sweep of unsent emails reads only those: its cost follows the outbox, not history.
        Index(
            "ix_email_unsent",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
    )


class Reminder(Base):
    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"))
    kind: Mapped[str] = mapped_column(String(40))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When it was queued (with its email) or cancelled (with why).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("case_id", "kind", "due_date"),)
