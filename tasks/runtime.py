"""One wiring (`workflow.bootstrap`) per worker process, made after the fork, and the hook that
queues the emails a unit of work committed."""

from __future__ import annotations

import logging

from celery.signals import worker_process_init, worker_ready

from models import database_url
from tasks.app import app
from workflow.bootstrap import Runtime, bootstrap, tune_garbage_collector

log = logging.getLogger(__name__)


SEND_EMAILS = "accompagnement.send_emails"  # the task of `tasks.emails`
DISPATCH_GROUP = 500  # emails per task: under a minute of SMTP, and few broker messages to queue

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The worker process's wiring (`workflow.bootstrap`), built on first use after the fork."""
    global _runtime  # noqa: PLW0603  (one per process)
    if _runtime is None:
        _runtime = bootstrap(database_url(), on_commit=queue_emails, check_schema=False)
    return _runtime


def queue_emails(email_ids: list[int]) -> None:
    """The after-commit hook: queue the sending of committed emails by groups (in-process when no
    broker is configured). The task is named, not imported: `tasks.emails` uses this module."""
    send = app.signature(SEND_EMAILS)
    for lo in range(0, len(email_ids), DISPATCH_GROUP):
        send.clone(args=[email_ids[lo : lo + DISPATCH_GROUP]]).apply_async()


@worker_process_init.connect
def _after_fork(**_: object) -> None:
    """A connection pool must never cross a fork: each child builds its own."""
    global _runtime  # noqa: PLW0603
    _runtime = None
    tune_garbage_collector()


@worker_ready.connect
def _say_what_redis_keeps(**_: object) -> None:
    """An operator reads in the worker's log whether a Redis restart would lose messages."""
    from tasks.monitor import redis_persistence

    try:
        log.warning("persistance du broker : %s", redis_persistence())
    except Exception as exc:  # a monitoring line must never stop a worker
        log.warning("persistance du broker : inconnue (%s)", type(exc).__name__)
