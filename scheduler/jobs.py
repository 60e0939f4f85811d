"""The scheduler's jobs: find what is due, claim the period, queue the Celery task.

Times are Europe/Paris. The daily reminder scan runs at 06:00, before caseworkers start; a
scheduler that was down at that time runs it as soon as it comes back the same day (and the
scan itself takes every reminder due by the day, so a missed day is caught up by the next one).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import time

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from workflow.clock import PARIS, today
from workflow.context import Context
from workflow.schedule import REMINDER_SCAN, claim_run
from workflow.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SCAN_AT = time(6, 0)
QueueScan = Callable[[str, bool], None]  # (day, digest): queue `accompagnement.scan_reminders`


class Jobs:
    def __init__(
        self, uow: Callable[[], UnitOfWork], ctx: Context, queue_scan: QueueScan, digest: bool = False
    ) -> None:
        self.uow = uow
        self.ctx = ctx
        self.queue_scan = queue_scan
        self.digest = digest
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def reminder_scan(self) -> bool:
        """Queue today's scan unless it already ran; True if this call queued it."""
        day = today(self.ctx.clock).isoformat()
        if claim_run(self.uow(), self.ctx, REMINDER_SCAN, day, self.identity) is None:
            log.info("reminder scan of %s already ran", day)
            return False
        self.queue_scan(day, self.digest)
        log.info("reminder scan of %s queued", day)
        return True

    def catch_up(self) -> list[str]:
        """Run what the schedule says should have run today already; names of the jobs run."""
        ran = []
        if self.ctx.clock.now().astimezone(PARIS).time() >= SCAN_AT and self.reminder_scan():
            ran.append(REMINDER_SCAN)
        return ran

    def scheduler(self) -> BlockingScheduler:
        """APScheduler 3 in Paris time, jobs in memory (never a shared job store)."""
        scheduler = BlockingScheduler(
            timezone=PARIS,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )
        scheduler.add_job(
            self.reminder_scan, CronTrigger(hour=SCAN_AT.hour, minute=SCAN_AT.minute, timezone=PARIS),
            id=REMINDER_SCAN, name="daily reminder scan",
        )  # fmt: skip
        return scheduler
