"""Real Celery worker processes for the tests, and a client that sends tasks by name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis
from celery import Celery

from tasks.app import QUEUE

ROOT = Path(__file__).resolve().parents[1]


class Worker:
    """`celery -A tasks worker` in its own process group, so SIGKILL reaches every child."""

    def __init__(
        self,
        database_url: str,
        broker_url: str,
        log: Path,
        concurrency: int = 2,
        queues: tuple[str, ...] = (QUEUE,),
        env: dict[str, str] | None = None,
    ) -> None:
        if database_url.startswith("postgresql"):  # so a test can find the worker's connections
            database_url += ("&" if "?" in database_url else "?") + "application_name=acc-worker"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            **(env or {}),
        }
        self.queues = queues
        self.log = log
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, visibility_timeout: float = 3) -> None:
        """Start the worker. Its short visibility timeout makes Redis hand a dead worker's message
        out again within seconds; but a live worker also hands out again its own message once the
        task outlasts it (kombu restores by age), and a kill can then fall between taking that
        message back and recording it as unacknowledged, losing it from Redis (the inbox sweep
        recovers such events in production). A test that kills a worker mid-task starts that
        worker with a timeout longer than the task."""
        options = {"visibility_timeout": visibility_timeout, "unacked_restore_interval": 1,
                   "unacked_restore_throttle": 1}  # fmt: skip
        self.env["ACCOMPAGNEMENT_BROKER_OPTIONS"] = json.dumps(options)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "INFO",
             "--concurrency", str(self.concurrency), "--queues", ",".join(self.queues), "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while "ready." not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the worker and its children at once: nothing gets to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.write_text(self.log.read_text(errors="replace").replace("ready.", "was ready (killed)."))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Client:
    """What another system does: send tasks by name to the broker."""

    def __init__(self, broker_url: str) -> None:
        self.app = Celery("client", broker=broker_url)
        self.app.conf.update(task_serializer="json", accept_content=["json"])

    def batch(self, events: Any, source: str = "test", **kwargs: Any) -> None:
        self.app.send_task("accompagnement.apply_batch", args=[events, source], kwargs=kwargs, queue=QUEUE)

    def send(self, name: str, args: list[Any], task_id: str | None = None, queue: str = QUEUE) -> None:
        self.app.send_task(name, args=args, queue=queue, task_id=task_id)


class Sweeper:
    """The scheduler's inbox sweep (`scheduler.jobs.Jobs.inbox_sweep`) on the real clock, every
    `every` seconds, in a thread of the test: it wakes the workers by name for the rows left
    waiting (a deferral come due, a lost message), as the scheduler process does."""

    def __init__(self, database_url: str, broker_url: str, every: float = 1.0, routed: bool = False) -> None:
        from models import make_engine, make_session_factory
        from scheduler.jobs import Jobs
        from workflow.adapters.convention_files import load_book
        from workflow.adapters.unit_of_work import UnitOfWork
        from workflow.application.inbox import ANY_DEPARTEMENT, Routed
        from workflow.application.service_context import Context
        from workflow.domain.clock import SystemClock

        self.engine = make_engine(database_url)
        sessions = make_session_factory(self.engine)
        client = Client(broker_url)

        def wake(rows: Routed) -> None:
            for departement in rows if routed else [ANY_DEPARTEMENT]:
                where = f"{QUEUE}.{departement}" if routed and departement else QUEUE
                client.send("accompagnement.drain_inbox", [departement], queue=where)

        def uow() -> UnitOfWork:
            return UnitOfWork(sessions)

        ctx = Context.open(uow(), SystemClock(), load_book())
        self.jobs = Jobs(uow, ctx, lambda d, g: None, lambda a, m: None, lambda q: None, lambda: None,
                         wake, leading=lambda: True)  # fmt: skip
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.jobs.inbox_sweep()
            except Exception as exc:  # a database restarting under a fault test: next round
                print(f"sweep: {type(exc).__name__}: {exc}", file=sys.stderr)

    def start(self) -> Sweeper:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)
        self.engine.dispose()


def flush(broker_url: str) -> None:
    redis.Redis.from_url(broker_url).flushdb()


def answering(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until `web serve` answers `url` (any status); fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            assert server.poll() is None and time.monotonic() < deadline, "web serve did not start"
            time.sleep(0.2)


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
