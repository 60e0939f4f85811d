"""Which scheduled job runs for which period: claimed once, by whoever inserts the row first.

The scheduler (`scheduler/`) decides *when*; this module decides *whether*: a job for a period
(the reminder scan of a day, the indicators of a quarter) runs only if its
`scheduled_run` row could be inserted. Two schedulers started by mistake, a restart that catches
up, a by-hand run on the same day: one of them runs it, the others are told it already ran.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from models import ScheduledRun
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context

REMINDER_SCAN = "reminder-scan"
QUARTERLY_INDICATORS = "quarterly-indicators"
AUDIT_SEAL = "audit-seal"


def claim_run(uow: UnitOfWork, ctx: Context, job: str, period: str, by: str) -> ScheduledRun | None:
    """Record that `job` runs for `period`; None if it already ran (the existing row says who)."""
    with uow:
        run = ScheduledRun(job=job, period=period, started_at=ctx.clock.now(), started_by=by[:120])
        uow.scheduled_runs.add(run)
        try:
            uow.commit()
        except IntegrityError:
            return None
        return run


def last_run(uow: UnitOfWork, job: str) -> ScheduledRun | None:
    with uow:
        return uow.scheduled_runs.last(job)
