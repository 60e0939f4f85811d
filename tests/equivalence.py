"""One person, one line, proved by equivalence: the same file of simulated events gives the same
cases whatever the path it takes, the number of worker processes, or the faults on the way.

The reference is a single process applying the file (`events ingest`, here `ingest_lines`). Each
path stores the same events through a real door (the command's `--via celery`, the HTTP door of
`web serve`, in batches or one by one from several senders), real Celery worker processes apply
them on the real Redis and database, and the scheduler's sweep runs beside them (`Sweeper`).
`outcome` reads what people and supervisors see: every case's state and dates, its
appointments, the log rows, the applied event ids, the rejections with their reasons. Used by
`tests/integration/test_one_person_one_line.py` (CI) and `bench/soak.py` (a full year).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, func, select, text

from models import (
    Appointment,
    Case,
    InboxEvent,
    ProcessedEvent,
    RejectedEvent,
    TransitionLog,
    make_session_factory,
)
from tasks.app import QUEUE
from tests.workers import ROOT, Sweeper, Worker, answering, flush
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application import directory
from workflow.application.ingest import ingest_lines
from workflow.application.service_context import Context
from workflow.application.simulation import Simulator, make_directory
from workflow.domain.clock import SystemClock
from workflow.domain.dates import add_months
from workflow.domain.vocabulary import InboxStatus

ROUTE_ENV = "ACCOMPAGNEMENT_ROUTE_BY_DEPARTEMENT"


@dataclass(frozen=True)
class Scenario:
    """A simulated file of events (in delivery order, redeliveries and late events included)."""

    path: Path
    events: list[dict[str, Any]]
    professionals: list[str]  # one CSV per département


def scenario(
    folder: Path, departements: tuple[str, ...] = ("67",), months: int = 1, warm_up: int = 3, seed: int = 7,
    agences: int = 1,
) -> Scenario:  # fmt: skip
    """The demo's simulator for each département from `warm_up` months before 2026-01-01 to
    `months` after, merged in delivery order into one JSON Lines file."""
    book, start = load_book(), date(2026, 1, 1)
    deliveries, staffs = [], []
    for n, code in enumerate(departements):
        terms = book.in_force(code, start).terms
        staff = make_directory(code, agences, 2)
        staffs.append(staff.csv())
        simulator = Simulator(code, terms, staff, start, add_months(start, months), seed + n)
        deliveries += simulator.run(add_months(start, -warm_up), first_number=100_000 * n)
    deliveries.sort(key=lambda d: (d.at, d.order))
    events = [d.event for d in deliveries]
    path = folder / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return Scenario(path, events, staffs)


def load_professionals(engine: Engine, found: Scenario) -> None:
    sessions = make_session_factory(engine)
    with UnitOfWork(sessions) as uow:
        for n, csv in enumerate(found.professionals):
            directory.import_rows(uow, directory.read_csv(io.StringIO(csv), f"professionals-{n}.csv"))
        uow.commit()


# An instant of application ("applied on 06/12/2026 09:14 (Paris)") differs from run to run.
_INSTANT = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}")


def outcome(engine: Engine) -> dict[str, list[Any]]:
    """What the cases are, as people see them; nothing that records when it was computed."""
    unseen = {"id", "person_id", "convention_version_id", "log_hash", "created_at", "updated_at"}
    kept = [c for c in Case.__table__.columns if c.name not in unseen]
    with engine.connect() as conn:
        cases = conn.execute(select(*kept).order_by(Case.reference)).all()
        log = conn.execute(
            select(TransitionLog.case_reference, TransitionLog.seq, TransitionLog.trigger,
                   TransitionLog.from_state, TransitionLog.to_state, TransitionLog.actor_id,
                   TransitionLog.occurred_at, TransitionLog.event_id, TransitionLog.reason,
                   TransitionLog.details).order_by(TransitionLog.case_reference, TransitionLog.seq)
        ).all()  # fmt: skip
        appointments = conn.execute(
            select(Appointment.external_id, Case.reference, Appointment.kind, Appointment.outcome,
                   Appointment.planned_at, Appointment.booked_at, Appointment.outcome_at)
            .join(Case, Case.id == Appointment.case_id).order_by(Appointment.external_id)
        ).all()  # fmt: skip
        applied = conn.scalars(select(ProcessedEvent.event_id).order_by(ProcessedEvent.event_id)).all()
        rejected = conn.execute(select(RejectedEvent.event_id, RejectedEvent.reason)).all()
    return {
        "cases": [tuple(map(_plain, row)) for row in cases],
        "log": [tuple(map(_plain, row)) for row in log],
        "appointments": [tuple(map(_plain, row)) for row in appointments],
        "applied": list(applied),
        "rejected": sorted(
            (event_id or "", _INSTANT.sub("<instant>", reason)) for event_id, reason in rejected
        ),
    }


def _plain(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value


def reference(engine: Engine, found: Scenario) -> dict[str, list[Any]]:
    """The file applied by one process, as `events ingest` does."""
    load_professionals(engine, found)
    sessions = make_session_factory(engine)
    ctx = Context.open(UnitOfWork(sessions), SystemClock(), load_book())
    with found.path.open(encoding="utf-8") as fh:
        ingest_lines(UnitOfWork(sessions), ctx, fh, found.path.name)
    return outcome(engine)


def differences(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> dict[str, int]:
    """How many rows of each part differ (in one and not the other): all zero when equivalent."""
    return {part: len(set(expected[part]) ^ set(got[part])) for part in expected}


def unlike(expected: dict[str, list[Any]], got: dict[str, list[Any]], shown: int = 8) -> str:
    """The first rows of each part found on one side only, whole (a failure in CI is read from
    its output alone: which events, and the reasons they were rejected for)."""
    lines = []
    for part in expected:
        for side, mine, other in (("reference only", expected, got), ("this path only", got, expected)):
            rows = sorted(set(mine[part]) - set(other[part]), key=str)
            lines += [f"{part}, {side} ({len(rows)}): {row!r}" for row in rows[:shown]]
    return "\n".join(lines)


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).where(InboxEvent.status == InboxStatus.PENDING)) or 0


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
        return {status: count for status, count in rows}


def applied_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(ProcessedEvent)) or 0


@dataclass
class Cluster:
    """The worker processes of a run: one set, or one per département queue when routed."""

    database_url: str
    broker_url: str
    folder: Path
    routed: tuple[str, ...] = ()  # départements, each with a worker of its own (and the default queue)
    workers: list[Worker] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {ROUTE_ENV: "1"} if self.routed else {}

    def start(self) -> None:
        flush(self.broker_url)
        if self.routed:
            queues = [(QUEUE, f"{QUEUE}.{self.routed[0]}")] + [(f"{QUEUE}.{d}",) for d in self.routed[1:]]
        else:
            queues = [(QUEUE,)]
        for n, names in enumerate(queues):
            worker = Worker(
                self.database_url, self.broker_url, self.folder / f"worker-{n}.log", 2, names, self.env
            )
            worker.start(visibility_timeout=60)
            self.workers.append(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        flush(self.broker_url)


@contextmanager
def running(cluster: Cluster) -> Iterator[Sweeper]:
    cluster.start()
    sweeper = Sweeper(cluster.database_url, cluster.broker_url, routed=bool(cluster.routed)).start()
    try:
        yield sweeper
    finally:
        sweeper.stop()
        cluster.stop()


def settle(engine: Engine, timeout: float = 300) -> float:
    """Wait until no inbox row is pending; seconds waited."""
    started = time.monotonic()
    while pending(engine):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{pending(engine)} inbox row(s) still pending after {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - started


# The doors ------------------------------------------------------------------------------


def via_celery(cluster: Cluster, found: Scenario) -> None:
    """`accompagnement events ingest FILE --via celery`: the file stored at once, workers woken."""
    env = {**os.environ, "CELERY_BROKER_URL": cluster.broker_url, **cluster.env}
    done = subprocess.run(
        [sys.executable, "-m", "workflow", "--database-url", cluster.database_url, "events", "ingest",
         str(found.path), "--via", "celery", "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr


@dataclass
class Door:
    """`accompagnement web serve` on a free loopback port, waking the workers through Redis."""

    cluster: Cluster
    port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # by partner
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Door:
        url = self.cluster.database_url
        env = {**os.environ, "CELERY_BROKER_URL": self.cluster.broker_url, **self.cluster.env,
               "ACCOMPAGNEMENT_WEB_SECRET": "equivalence-" + "s" * 40}  # fmt: skip
        for partner in ("france_travail", "departement"):  # each system speaks for its partner
            argv = [sys.executable, "-m", "workflow", "--database-url", url, "web", "token",
                    f"si-{partner}-{time.monotonic_ns()}", "--partenaire", partner]  # fmt: skip
            issued = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            self.tokens[partner] = issued.stdout.strip()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        log = (self.cluster.folder / "web.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workflow", "--database-url", url, "web", "serve",
             "--port", str(self.port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        answering(f"http://127.0.0.1:{self.port}/api/openapi.json", self.process)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def client(self, partner: str) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60,
                            headers={"Authorization": f"Bearer {self.tokens[partner]}"})  # fmt: skip


def partner_of(event: dict[str, Any]) -> str:
    """The partner whose system sends this event: the Département's for its social workers'."""
    role = str((event.get("actor") or {}).get("role", ""))
    return "departement" if role in ("referent_social", "referent_ag") else "france_travail"


def http_batches(door: Door, found: Scenario, size: int = 100) -> None:
    """The file posted in order, one request at a time: each run of consecutive events of one
    partner by that partner's system, `size` events a request at most."""
    clients = {partner: door.client(partner) for partner in door.tokens}
    try:
        start = 0
        while start < len(found.events):
            partner, end = partner_of(found.events[start]), start
            while end < len(found.events) and end - start < size and partner_of(found.events[end]) == partner:
                end += 1
            answer = clients[partner].post("/api/events/batch", json={"events": found.events[start:end]})
            assert answer.status_code == 200, answer.text
            start = end
    finally:
        for client in clients.values():
            client.close()


def owner(event: dict[str, Any], people: dict[str, str]) -> str:
    """The person an event concerns, as a sender owning a share of the persons knows it."""
    if event.get("type") == "orientation_proposed":
        people[event["case_ref"]] = event["person"]["ft_identifier"]
    ref = str(event.get("case_ref", ""))
    return people.get(ref, str(event.get("ft_identifier") or ref))


def http_one_by_one(door: Door, found: Scenario, senders: int = 8) -> None:
    """`senders` senders, each owning a share of the persons, post their events one by one in the
    file's order, each waiting for the answer before the next."""
    people: dict[str, str] = {}
    shares: list[list[dict[str, Any]]] = [[] for _ in range(senders)]
    for event in found.events:
        shares[sum(owner(event, people).encode()) % senders].append(event)
    failures: list[str] = []

    def send(share: list[dict[str, Any]]) -> None:
        clients = {partner: door.client(partner) for partner in door.tokens}
        try:
            for event in share:
                answer = clients[partner_of(event)].post("/api/events", json=event)
                if answer.status_code not in (200, 202, 422):
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
        finally:
            for client in clients.values():
                client.close()

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]


# The faults -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Underway:
    """The run a fault strikes: its workers, its database, and whether every event was sent."""

    cluster: Cluster
    engine: Engine
    sent: threading.Event


Fault = Callable[[Underway], int]  # returns how many times it struck


def _progress(run: Underway, beyond: int, timeout: float = 120) -> bool:
    """Wait until more than `beyond` events are applied; False if the run settled first: every
    event sent, and none pending. The inbox may empty while a sender is still between two
    requests (a loaded machine): the run has not settled then."""
    deadline = time.monotonic() + timeout
    while applied_count(run.engine) <= beyond:
        settled = run.sent.is_set() and applied_count(run.engine) and not pending(run.engine)
        if time.monotonic() > deadline or settled:
            return False
        time.sleep(0.02)
    return True


def kill_workers(run: Underway, times: int = 3) -> int:
    """SIGKILL every worker process mid-run, then start them again, `times` times."""
    for done in range(times):
        if not _progress(run, applied_count(run.engine) + 50):
            return done
        for worker in run.cluster.workers:
            worker.kill()
        for worker in run.cluster.workers:
            worker.start(visibility_timeout=60)
    return times


def lose_the_broker(run: Underway) -> int:
    """What a Redis restart without persistence does to the run: every queued message and every
    client connection gone at once (the test's own Redis database emptied, its clients cut)."""
    if not _progress(run, applied_count(run.engine) + 100):
        return 0
    client = redis.Redis.from_url(run.cluster.broker_url)
    client.flushdb()
    client.client_kill_filter(_type="normal", skipme=True)
    client.flushdb()
    return 1


def cut_database_connections(run: Underway, times: int = 3) -> int:
    """Terminate the workers' PostgreSQL connections mid-run, `times` times."""
    for done in range(times):
        if not _progress(run, applied_count(run.engine) + 100):
            return done
        with run.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = 'acc-worker' "
                              "AND datname = current_database()"))  # fmt: skip
    return times


class Striking(threading.Thread):
    """A fault striking in the background of a run; `struck` says how often it did."""

    def __init__(self, fault: Fault, underway: Underway) -> None:
        super().__init__(daemon=True)
        self.fault, self.underway = fault, underway
        self.struck = 0

    def run(self) -> None:
        self.struck = self.fault(self.underway)


def during(fault: Fault | None, underway: Underway) -> Striking | None:
    if fault is None:
        return None
    striking = Striking(fault, underway)
    striking.start()
    return striking


PATHS = ["celery", "celery, routed", "http batches of 100", "http one by one, 8 senders"]
FAULTS: dict[str, Fault | None] = {
    "no fault": None,
    "workers killed 3 times": kill_workers,
    "broker lost": lose_the_broker,
    "database connections cut": cut_database_connections,
}


@dataclass(frozen=True)
class Run:
    outcome: dict[str, list[Any]]
    struck: int  # how often the fault struck
    seconds: float  # from the first event sent to the last settled


def through(path: str, fault: str, engine: Engine, database_url: str, broker_url: str, found: Scenario,
            folder: Path) -> Run:  # fmt: skip
    """Send the scenario's events through `path` (one of PATHS) under `fault` (one of FAULTS),
    into empty tables, with its workers and the sweep; wait until every row is settled."""
    load_professionals(engine, found)
    cluster = Cluster(
        database_url, broker_url, folder, routed=("67", "35") if path == "celery, routed" else ()
    )
    with running(cluster):
        started = time.monotonic()
        sent = threading.Event()
        striking = during(FAULTS[fault], Underway(cluster, engine, sent))
        if path.startswith("celery"):
            via_celery(cluster, found)
        else:
            with Door(cluster) as door:
                (http_batches if path == "http batches of 100" else http_one_by_one)(door, found)
        sent.set()
        if striking is not None:
            striking.join(timeout=1800)
        settle(engine, timeout=3600)
        seconds = time.monotonic() - started
    return Run(outcome(engine), 0 if striking is None else striking.struck, seconds)
