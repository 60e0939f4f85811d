"""`accompagnement scheduler`: the long-lived process that triggers the periodic jobs."""

from __future__ import annotations

import argparse
import logging
import os
import time

from workflow.cli.common import EXIT_OK, EXIT_PROBLEM, Subparsers, Whole, command, connect

log = logging.getLogger(__name__)

STANDBY_POLL = 30  # seconds between two attempts of a standby scheduler to take the lead


def cmd_scheduler(args: argparse.Namespace) -> int:
    from scheduler.jobs import Jobs
    from scheduler.leader import LeaderLock
    from scheduler.metrics import LEADER
    from tasks.events import queue as queue_inbox
    from tasks.indicators import quarterly_indicators
    from tasks.reminders import scan_reminders
    from tasks.revues import produce_revue
    from tasks.seals import seal_audit
    from workflow.adapters.metrics import serve

    rt = connect(args.database_url)
    lock = LeaderLock(args.database_url)
    if args.metrics_port:
        serve(args.metrics_port)
        print(f"mesures Prometheus sur le port {args.metrics_port} (/metrics)")
    digest = args.digest or os.environ.get("ACCOMPAGNEMENT_REMINDER_DIGEST", "") not in ("", "0")
    while True:
        LEADER.set(0)
        while not lock.try_acquire():
            if args.once:
                print("un autre planificateur mène sur cette base : rien de fait")
                return EXIT_PROBLEM
            log.warning("un autre planificateur mène sur cette base : celui-ci attend son tour")
            time.sleep(STANDBY_POLL)
        LEADER.set(1)
        jobs = Jobs(
            rt.uow, rt.ctx, scan_reminders.delay, produce_revue.delay, quarterly_indicators.delay,
            seal_audit.delay, queue_inbox, leading=lock.still_held, digest=digest,
        )  # fmt: skip
        try:
            ran = jobs.catch_up()
            done = ", ".join(ran) or "rien n'était dû"
            print(f"rattrapé : {done}")
            if args.once:
                return EXIT_OK
            scheduler = jobs.scheduler()
            for job in scheduler.get_jobs():
                print(f"planifié : {job.name} ({job.trigger})")
            scheduler.start()
        finally:
            lock.release()
        if not jobs.stepped_down:
            return EXIT_OK
        log.warning("a cédé la main : attend de mener à nouveau")


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    sched = command(
        sub, "scheduler", cmd_scheduler,
        "run the periodic jobs (log seal 03:00, reminder scan 06:00, last quarter's indicators 07:00, each "
        "agency's revue on its convention's day and hour, inbox sweep every minute; Paris time); "
        "one leader per database",
    )  # fmt: skip
    sched.add_argument("--once", action="store_true", help="catch up what is due now, then exit")
    sched.add_argument("--digest", action="store_true", help="reminders as one daily digest per caseworker")
    sched.add_argument(
        "--metrics-port", type=Whole(1, 65_535), metavar="PORT",
        help="answer Prometheus on this port (/metrics: leading or not, each job's last run and outcome)",
    )  # fmt: skip
