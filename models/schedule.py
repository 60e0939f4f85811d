"""Runs of the scheduler's jobs, one row per job and period.

The unique (job, period) key is what makes a job run once per period even when two scheduler
processes were started by mistake, or a scheduler that was down catches up when it comes back:
whoever inserts the row runs the job, the other finds it taken.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ScheduledRun(Base):
    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(40))  # "2026-11-22" (daily), "2026-11" (monthly)…
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(120))  # host:pid of the scheduler
