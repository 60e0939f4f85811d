"""The append-only transition log.

Each row is chained to the previous row of the same case by a sha256 hash, so an edit, a
deletion or a re-ordering is detectable (`workflow.application.audit.chain.verify_chains`). The application
only ever inserts here. Actor ids are plain strings, not foreign keys with cascades: a log
row keeps its actor forever, even for the `systeme` actor that has no directory entry.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class TransitionLog(Base):
    __tablename__ = "transition_log"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    # Repeats the case's reference on purpose: the hash covers it (ids differ between a database
    # and its restore) and an exported row is read without the case table.
    case_reference: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(32), index=True)
    actor_role: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessDenial(Base):
    """A refused action or read (`workflow.domain.permissions`): who, what, which case, why. Append-only
    like the log (the PostgreSQL trigger refuses UPDATE and DELETE here too)."""

    __tablename__ = "access_denial"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str] = mapped_column(String(32), index=True)
    actor_role: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)


class AuditSeal(Base):
    """The chain heads of one day, sealed: HMAC-SHA256 with the operator's key over the day, the
    number of chains and the sha256 of their sorted heads (`workflow.application.audit.seals`). A rewrite of a
    whole chain (every hash recomputed) changes a sealed head, and cannot be re-sealed without
    the key."""

    __tablename__ = "audit_seal"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC day of recorded_at
    chains: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    heads: Mapped[dict[str, list[Any]]] = mapped_column(JSON)  # case reference → [seq, hash] at the day's end
    heads_sha256: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))
    # The previous day's seal's hmac, signed with this one ("" for the first seal): the seals form a
    # chain, so a deleted seal is seen. NULL for seals made before they were chained.
    prev_hmac: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))  # which key signed (first hex of its sha256)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
