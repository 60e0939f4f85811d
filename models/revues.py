"""The monthly revue de portefeuille of an agency (seed 004 art. 5.2): one row per agency and month.

The unique (agence, month) key is what makes a revue exist once, however many schedulers or
operators ask for it; `content` keeps the tableau de suivi as it was produced, the reference the
decisions taken at the revue will point to.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Revue(Base):
    __tablename__ = "revue"
    __table_args__ = (UniqueConstraint("agence", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agence: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    departement: Mapped[str] = mapped_column(String(3))
    held_on: Mapped[date] = mapped_column(Date)
    since: Mapped[date] = mapped_column(Date)  # the previous revue's day: what happened since
    next_on: Mapped[date] = mapped_column(Date)  # the next revue's day: what must be decided before
    secretariat: Mapped[str] = mapped_column(String(24))  # the role whose turn it is
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(120))


class RevueDecision(Base):
    """A decision taken at a revue and applied to a case. Unique per revue, case and rubrique,
    so acting the same revue (or the same file sent back) twice applies each decision once."""

    __tablename__ = "revue_decision"
    __table_args__ = (UniqueConstraint("revue_id", "case_reference", "rubrique"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    revue_id: Mapped[int] = mapped_column(ForeignKey("revue.id"), index=True)
    case_reference: Mapped[str] = mapped_column(String(40))
    rubrique: Mapped[str] = mapped_column(String(24))  # the tableau's section
    decision: Mapped[str] = mapped_column(String(60))
    actor_id: Mapped[str] = mapped_column(String(32))
    log_hash: Mapped[str] = mapped_column(String(64))  # the transition log row it wrote
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
