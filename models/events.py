"""Bookkeeping of incoming events: what was accepted, applied, refused.

`processed_event.event_id` is the primary key: a replayed or redelivered event collides on
it inside the same transaction as its effects, which is what makes ingestion idempotent
without a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ProcessedEvent(Base):
    __tablename__ = "processed_event"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(40), index=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RejectedEvent(Base):
    """An event that could not be applied, with its raw text (made storable and bounded) and why.

    One row per unresolved event: a replayed or redelivered rejection of the same event (same
    `fingerprint`: its event_id, or the sha256 of its text when it has none) counts another
    occurrence and keeps the last reason, instead of adding a row each time.
    """

    __tablename__ = "rejected_event"
    __table_args__ = (
        Index(
            "uq_rejected_event_unresolved_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str | None] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(255))  # "file.jsonl:12", "http", "celery"
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the first time
    # When the event says it happened (a valid event refused by a rule): what people see is
    # dated by it, so a backfilled event lands in the period it belongs to.
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    occurrences: Mapped[int] = mapped_column(Integer, server_default="1")
    last_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by `events retry` once the event applied (or proved a duplicate) after a fix.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(255))


def _while_pending(name: str, *columns: str, unique: bool = False) -> Index:
    """An index of the inbox rows still pending only: small, and each row leaves it once settled."""
    return Index(
        name,
        *columns,
        unique=unique,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    )


class InboxEvent(Base):
    """An event accepted by a door (HTTP, `events ingest --via celery`, a Celery message), stored
    before the sender is told "accepted": the broker only carries wake-ups, so a broker restart
    or a lost message costs a sweep's delay, not the event.

    `submission` + `position` identify the event within what was stored at once (the HTTP
    requests of one group commit, a CLI run, a Celery task id), so a redelivered message stores
    nothing twice.
    `status` ends as applied, duplicate or rejected (`reason` says why); `attempts` counts how
    often a worker took the row, so a row that kills its worker every time is parked.
    """

    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("submission", "position"),
        Index("ix_inbox_event_sender_event_id", "sender", "event_id"),
        # The sweep finds the rows pending since long.
        _while_pending("ix_inbox_event_pending", "queued_at"),
        # The workers' micro-batches take the waiting rows in arrival (id) order, never walking
        # the rows settled long ago.
        _while_pending("ix_inbox_event_waiting", "id"),
        # Routed by département, a worker's micro-batches take the waiting rows of its own; and
        # an event whose case is still an orientation waiting in the inbox takes that one's route.
        _while_pending("ix_inbox_event_waiting_departement", "departement", "id"),
        _while_pending("ix_inbox_event_waiting_case", "case_reference"),
        # A worker takes a person's rows from the first one still to try (`InboxRows.take`).
        _while_pending("ix_inbox_event_waiting_person", "person_key", "id"),
        # One pending copy of an event at most: a copy sent while the first waits is refused by
        # this index at the door, and stored as a duplicate (`inbox.receive`).
        _while_pending("uq_inbox_event_waiting_event_id", "event_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    submission: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(80))  # "http:<system>", "cli", "celery:<source>"
    source: Mapped[str] = mapped_column(String(255))  # where, for reports: "file.jsonl:12"
    event_id: Mapped[str | None] = mapped_column(String(64))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    # The case's convention (its département) when known at the door: the queue that carries the
    # row when the workers are routed by département. None: an unknown case, an unreadable event.
    departement: Mapped[str | None] = mapped_column(String(3))
    payload: Mapped[str] = mapped_column(Text)  # the event's JSON text, storable and bounded
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the last taking counted
    # The person the event concerns (their France Travail identifier; "dossier:<ref>" while the
    # case's person is unknown): one person's rows are applied in id order (`InboxRows.take`). None
    # for rows stored before the order was kept: each such row is alone.
    person_key: Mapped[str | None] = mapped_column(String(80))
    # A premature event's next try, and how often it was deferred (`ingest`, MAX_DEFERRALS).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deferrals: Mapped[int] = mapped_column(Integer, server_default="0")
