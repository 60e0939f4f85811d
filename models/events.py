"""Bookkeeping of incoming events: what was applied, what was refused.

`processed_event.event_id` is the primary key: a replayed or redelivered event collides on
it inside the same transaction as its effects, which is what makes ingestion idempotent
without a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
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
    __tablename__ = "rejected_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str | None] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(255))  # "file.jsonl:12", "http", "celery"
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Set by `events retry` once the event applied (or proved a duplicate) after a fix.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(255))


class TaskDelivery(Base):
    """How many times a broker handed one task attempt to a worker.

    With late acknowledgement a message whose processing kills the worker comes back after the
    visibility timeout, forever; counting deliveries (in the database, so the count survives the
    worker) lets the task park such a message as rejected instead of looping.
    """

    __tablename__ = "task_delivery"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # task id + retry number
    deliveries: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
