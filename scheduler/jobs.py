"""The scheduler's jobs: find what is due, claim the period, queue the Celery task.

Times are Europe/Paris. The daily reminder scan runs at 06:00, before caseworkers start; a
scheduler that was down at that time runs it as soon as it comes back the same day (and the
scan itself takes every reminder due by the day, so a missed day is caught up by the next one).
Every quarter of an hour, the revues whose day and hour have come this month (per convention,
`workflow.domain.conventions.RevueSchedule`) and that do not exist yet are queued: on time, or late if
the scheduler was down then. Every day at 07:00 the indicators of the quarter just ended are
queued, once per quarter: on the quarter's first day, or the first day the scheduler runs. Every
night at 03:00 (after midnight UTC, winter and summer) the seal of the days just over is queued,
when the operator's sealing key is configured. Every SWEEP_EVERY (10 s), workers are woken for
the inbox rows that wait with no worker on them: a message lost (a broker restart, a killed
worker), or a deferred event whose next try has come (`workflow.application.inbox.requeue_stale`).

Before each job the scheduler checks that it still leads (`leading`): a leader whose lock
connection died steps down instead of running jobs beside the new leader.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import time
from typing import TypeVar

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler import metrics
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.audit.seals import KEY_ENV
from workflow.application.inbox import SWEEP_EVERY, Routed, requeue_stale
from workflow.application.indicators import Quarter
from workflow.application.revue.production import due_revues
from workflow.application.scheduled_runs import AUDIT_SEAL, QUARTERLY_INDICATORS, REMINDER_SCAN, claim_run
from workflow.application.service_context import Context
from workflow.domain.clock import PARIS, today

log = logging.getLogger(__name__)

SCAN_AT = time(6, 0)
INDICATORS_AT = time(7, 0)
SEAL_AT = time(3, 0)
REVUES_EVERY = "*/15"  # minutes: a convention may hold its revues at 08:00, 09:30, 14:15…
REVUES = "monthly-revues"
INBOX_SWEEP = "inbox-sweep"
QueueScan = Callable[[str, bool], None]  # (day, digest): queue `accompagnement.scan_reminders`
QueueRevue = Callable[[str, str], None]  # (agence, month): queue `accompagnement.produce_revue`
QueueIndicators = Callable[[str], None]  # (quarter): queue `accompagnement.quarterly_indicators`
QueueSeal = Callable[[], None]  # queue `accompagnement.seal_audit`
T = TypeVar("T")
QueueInbox = Callable[[Routed], None]  # (inbox ids by département): wake the workers (`tasks.events.queue`)


class SteppedDown(Exception):
    """The leader lock was lost (its connection died): another scheduler may lead now."""


class Jobs:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        ctx: Context,
        queue_scan: QueueScan,
        queue_revue: QueueRevue,
        queue_indicators: QueueIndicators,
        queue_seal: QueueSeal,
        queue_inbox: QueueInbox,
        leading: Callable[[], bool],
        digest: bool = False,
    ) -> None:
        self.uow = uow
        self.ctx = ctx
        self.queue_scan = queue_scan
        self.queue_revue = queue_revue
        self.queue_indicators = queue_indicators
        self.queue_seal = queue_seal
        self.queue_inbox = queue_inbox
        self.leading = leading
        self.digest = digest
        self.stepped_down = False
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def reminder_scan(self) -> bool:
        """Queue today's scan unless it already ran; True if this call queued it."""
        day = today(self.ctx.clock).isoformat()
        if claim_run(self.uow(), self.ctx, REMINDER_SCAN, day, self.identity) is None:
            log.info("scan des rappels du %s déjà fait", day)
            return False
        self.queue_scan(day, self.digest)
        log.info("scan des rappels du %s mis en file", day)
        return True

    def monthly_revues(self) -> list[tuple[str, str]]:
        """Queue the revues whose day and hour have come this month and that are not produced yet;
        the revue row is unique per agency and month, so a revue queued twice is produced once."""
        with self.uow() as uow:
            due = due_revues(uow.session, self.ctx.book, self.ctx.clock.now())
        for agence, month in due:
            self.queue_revue(agence, month)
            log.info("revue %s %s mise en file", agence, month)
        return due

    def quarterly_indicators(self) -> str | None:
        """Queue the indicators of the quarter just ended, once; the quarter if this call queued it."""
        quarter = str(Quarter.of(today(self.ctx.clock)).previous)
        if claim_run(self.uow(), self.ctx, QUARTERLY_INDICATORS, quarter, self.identity) is None:
            return None
        self.queue_indicators(quarter)
        log.info("indicateurs de %s mis en file", quarter)
        return quarter

    def audit_seal(self) -> bool:
        """Queue the night's seal of the log, once a day, if the sealing key is configured."""
        if not os.environ.get(KEY_ENV):
            log.warning("sceaux quotidiens du journal désactivés : %s n'est pas défini", KEY_ENV)
            return False
        day = today(self.ctx.clock).isoformat()
        if claim_run(self.uow(), self.ctx, AUDIT_SEAL, day, self.identity) is None:
            return False
        self.queue_seal()
        log.info("sceau du journal mis en file (%s)", day)
        return True

    def inbox_sweep(self) -> int:
        """Wake workers for the inbox rows no worker holds and no wake-up was sent for lately
        (a lost message, a deferred event now due); how many rows."""
        rows = requeue_stale(self.uow(), self.ctx)
        if rows:
            self.queue_inbox(rows)
        count = sum(map(len, rows.values()))
        if count:
            log.info("balayage de la boîte d'entrée : workers réveillés pour %d événement(s)", count)
        return count

    def catch_up(self) -> list[str]:
        """Run what the schedule says should have run already; names of the jobs run."""
        ran = []
        now = self.ctx.clock.now().astimezone(PARIS).time()
        if now >= SEAL_AT and measured(self.audit_seal):
            ran.append(AUDIT_SEAL)
        if now >= SCAN_AT and measured(self.reminder_scan):
            ran.append(REMINDER_SCAN)
        if now >= INDICATORS_AT and measured(self.quarterly_indicators):
            ran.append(QUARTERLY_INDICATORS)
        if measured(self.monthly_revues):
            ran.append(REVUES)
        if measured(self.inbox_sweep):
            ran.append(INBOX_SWEEP)
        return ran

    def as_leader(self, job: Callable[[], object], scheduler: BlockingScheduler | None = None) -> None:
        """Run `job` if this process still leads; else step down (stop `scheduler`)."""
        if not self.leading():
            self.stepped_down = True
            log.error("verrou de meneur perdu : ce planificateur cède la main avant %s", job.__name__)
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            raise SteppedDown(job.__name__)
        measured(job)

    def scheduler(self) -> BlockingScheduler:
        """APScheduler 3 in Paris time, jobs in memory (never a shared job store); every job
        runs only while this process leads."""
        scheduler = BlockingScheduler(
            timezone=PARIS,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )
        self._add(
            scheduler,
            self.reminder_scan, CronTrigger(hour=SCAN_AT.hour, minute=SCAN_AT.minute, timezone=PARIS),
            id=REMINDER_SCAN, name="daily reminder scan",
        )  # fmt: skip
        self._add(
            scheduler,
            self.audit_seal, CronTrigger(hour=SEAL_AT.hour, minute=SEAL_AT.minute, timezone=PARIS),
            id=AUDIT_SEAL, name="seal of the log's days just over",
        )  # fmt: skip
        self._add(
            scheduler,
            self.quarterly_indicators,
            CronTrigger(hour=INDICATORS_AT.hour, minute=INDICATORS_AT.minute, timezone=PARIS),
            id=QUARTERLY_INDICATORS, name="indicators of the quarter just ended",
        )  # fmt: skip
        self._add(
            scheduler,
            self.monthly_revues, CronTrigger(minute=REVUES_EVERY, timezone=PARIS),
            id=REVUES, name="monthly revues (each agency on its convention's day and hour)",
        )  # fmt: skip
        self._add(
            scheduler, self.inbox_sweep, IntervalTrigger(seconds=SWEEP_EVERY.total_seconds(), timezone=PARIS),
            id=INBOX_SWEEP, name="workers woken for inbox rows left waiting (lost message, deferral due)",
        )  # fmt: skip
        return scheduler

    def _add(self, scheduler: BlockingScheduler, job: Callable[[], object], trigger: BaseTrigger,
             id: str, name: str) -> None:  # fmt: skip
        scheduler.add_job(self.as_leader, trigger, args=[job, scheduler], id=id, name=name)


def measured(job: Callable[[], T]) -> T:
    """Run a job, counting its run and outcome for the operator (`accompagnement_job_runs_total`,
    and the time of its last run by outcome)."""
    name = getattr(job, "__name__", "job")
    try:
        result = job()
    except Exception:
        metrics.JOB_RUNS.labels(name, "failed").inc()
        metrics.JOB_LAST_RUN.labels(name, "failed").set_to_current_time()
        raise
    metrics.JOB_RUNS.labels(name, "ok").inc()
    metrics.JOB_LAST_RUN.labels(name, "ok").set_to_current_time()
    return result
