"""The scheduler's jobs: find what is due, claim the period, queue the Celery task.

Times are Europe/Paris. The daily reminder scan runs at 06:00, before caseworkers start; a
scheduler that was down at that time runs it as soon as it comes back the same day (and the
scan itself takes every reminder due by the day, so a missed day is caught up by the next one).
Every day at 08:00 the revues whose day has come this month and that do not exist yet are
queued: on its day, or late if the scheduler was down then.
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
from workflow.revue import due_revues
from workflow.schedule import REMINDER_SCAN, claim_run
from workflow.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SCAN_AT = time(6, 0)
REVUES_AT = time(8, 0)  # default revue hour, on the agency's revue day (first working day)
REVUES = "monthly-revues"
QueueScan = Callable[[str, bool], None]  # (day, digest): queue `accompagnement.scan_reminders`
QueueRevue = Callable[[str, str], None]  # (agence, month): queue `accompagnement.produce_revue`


class Jobs:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        ctx: Context,
        queue_scan: QueueScan,
        queue_revue: QueueRevue,
        digest: bool = False,
    ) -> None:
        self.uow = uow
        self.ctx = ctx
        self.queue_scan = queue_scan
        self.queue_revue = queue_revue
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

    def monthly_revues(self) -> list[tuple[str, str]]:
        """Queue the revues due today or earlier this month and not produced yet (each agency's
        day is the first working day of the month, public holidays of its département skipped);
        the revue row is unique per agency and month, so a revue queued twice is produced once."""
        with self.uow() as uow:
            due = due_revues(uow.session, today(self.ctx.clock))
        for agence, month in due:
            self.queue_revue(agence, month)
            log.info("revue %s %s queued", agence, month)
        return due

    def catch_up(self) -> list[str]:
        """Run what the schedule says should have run today already; names of the jobs run."""
        ran = []
        now = self.ctx.clock.now().astimezone(PARIS).time()
        if now >= SCAN_AT and self.reminder_scan():
            ran.append(REMINDER_SCAN)
        if now >= REVUES_AT and self.monthly_revues():
            ran.append(REVUES)
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
        scheduler.add_job(
            self.monthly_revues, CronTrigger(hour=REVUES_AT.hour, minute=REVUES_AT.minute, timezone=PARIS),
            id=REVUES, name="monthly revues (each agency on its revue day)",
        )  # fmt: skip
        return scheduler
