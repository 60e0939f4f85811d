"""One database engine and service context per worker process, made after the fork."""

from __future__ import annotations

import logging

from celery.signals import worker_process_init, worker_ready

from models import database_url, make_engine, make_session_factory
from tasks.process_tuning import tune_garbage_collector
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain.clock import SystemClock
from workflow.domain.conventions import load_book

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self) -> None:
        self.engine = make_engine(database_url())
        self.sessions = make_session_factory(self.engine)
        self.ctx = Context.open(self.uow(), SystemClock(), load_book())

    def uow(self) -> UnitOfWork:
        """A unit of work whose committed emails are queued for sending (the outbox)."""
        from tasks.emails import dispatch  # tasks.emails itself needs this module

        return UnitOfWork(self.sessions, on_commit=dispatch)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603  (one per process, built on first use)
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


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
        log.warning("broker persistence: %s", redis_persistence())
    except Exception as exc:  # a monitoring line must never stop a worker
        log.warning("broker persistence: unknown (%s)", type(exc).__name__)
