"""Events per second on PostgreSQL: the service's paths against a raw-SQL floor, in one run.

    python -m bench.ingest [--cases 100000] [--events 20000] [--database-url …] [--broker-url …]
                           [--only-http]

Builds N cases under contract (COPY, not measured), then gives each path its own slice of cases
and one `renewal_decided` event per case (a transition: update the case row, insert one log row;
the case row also takes its next reminder day and its log head). The cases carry the history the
service would have left (log rows, processed events, reminders written), so lookups do not run
on empty tables:

- floor: raw SQL doing those writes in batches of 500, no validation, no state machine, no ORM;
- floor, one event per transaction: the same raw writes, each event committed alone (what a
  one-by-one path would cost with nothing but its writes: the ratio of the single-event tasks
  and of the HTTP door, which other engines pay too);
- floor, all the writes: raw SQL doing every write the service makes for an event sent in a
  Celery batch (inbox row stored, taken and settled, case row, log row, processed-event row);
- direct: `workflow.application.ingest.ingest_items` in this process, in batches of 500;
- celery: batches of 500 sent by name to a real `celery -A tasks worker` on Redis;
- single: one `accompagnement.apply_event` task per event (a smaller slice), applied in
  micro-batches by the workers;
- http: `POST /api/events`, one event per request, from 8 concurrent senders, against
  `accompagnement web serve` (uvicorn, one process) and the same worker: first as fast as the
  senders go (events/s applied), then paced at 500 events/s offered, printing the rate the door
  took them at and the delay from acceptance (the inbox row) to applied (the processed-event
  row), p50 and p99, and how many events the door stored per transaction (its group commit).
  `--only-http` measures this path and the one-by-one floor alone.

Prints events/s, each path's ratio to the floor, and the worker's peak memory (VmHWM of its
processes) after each Celery path, to show it does not grow with the number of events.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from celery import Celery
from sqlalchemy import MetaData, func, select

from bench import common
from models import InboxEvent, ProcessedEvent, make_engine, make_session_factory
from web.auth import create_token
from workflow.adapters import migrations as database
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.ingest import Item, ingest_items
from workflow.application.service_context import Context
from workflow.domain.clock import SystemClock
from workflow.domain.dates import period_end
from workflow.domain.vocabulary import Partner

ROOT = Path(__file__).resolve().parents[1]
QUEUE = "accompagnement.events"
BATCH = 500
START = date(2026, 1, 5)


def fresh_schema(url: str) -> int:
    """Drop every table, migrate from nothing, record the conventions; the 67 version's id."""
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    database.upgrade(engine)
    ctx = Context.open(UnitOfWork(make_session_factory(engine)), SystemClock(), load_book())
    engine.dispose()
    return ctx.version_ids[("67", "2021")]


def insert_people(cur: psycopg.Cursor[Any], cases: int) -> None:
    """The binôme every benchmark case shares, and one person per case (ids 1..cases)."""
    cur.execute(
        "INSERT INTO professional (id, role, name, email, departement, agence, territory, active) VALUES "
        "('C', 'conseiller', 'C', 'c@x.example', '67', 'A', NULL, true), "
        "('R', 'referent_social', 'R', 'r@x.example', '67', NULL, 'T', true)"
    )
    now = datetime.now(UTC).isoformat()
    columns = "id, ft_identifier, status, registered, departement, agence, created_at, updated_at"
    with cur.copy(f"COPY person ({columns}) FROM STDIN") as copy:
        for i in range(1, cases + 1):
            copy.write_row((i, f"FT{i:09d}", "BRSA", True, "67", "A", now, now))


HISTORY = ("orienter", "diagnostiquer", "signer_contrat")  # each case's log before the bench
HISTORY_STATES = (None, "reperage", "diagnostic", "contrat")


def build(url: str, cases: int) -> None:
    """Cases under contract with the history the service would have left: three log rows and
    three processed events each, and the reminders already written (the convocation cancelled,
    the first appointments queued), so that lookups do not run on empty tables."""
    version = fresh_schema(url)
    now = datetime.now(UTC).isoformat()
    end = period_end(START, 6)
    case_columns = (
        "id, reference, person_id, convention_code, convention_version_id, agence, state, conseiller_id, "
        "referent_social_id, orienteur_id, origin, consent, barriers, other_barrier_agreed, "
        "orientation_date, contract_start, contract_end, renewal_count, next_reminder_on, log_seq, log_hash, "
        "created_at, updated_at"
    )
    start, barriers = START.isoformat(), '["logement", "mobilite"]'
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        insert_people(cur, cases)
        with cur.copy(f"COPY case_file ({case_columns}) FROM STDIN") as copy:
            for i in range(1, cases + 1):
                people = ("C", "R", "C")  # conseiller, référent social, orienteur
                row = (
                    i,
                    f"B{i:09d}",
                    i,
                    "67",
                    version,
                    "A",
                    "contrat",
                    *people,
                    "france_travail",
                    True,
                    barriers,
                )
                copy.write_row((*row, False, start, start, end.isoformat(), 0, end - timedelta(30), 3,
                                f"{i:064x}", now, now))  # fmt: skip
        with cur.copy(f"COPY transition_log ({LOG_COLUMNS}) FROM STDIN") as copy:
            for i in range(1, cases + 1):
                for seq, trigger in enumerate(HISTORY, start=1):
                    frm, to = HISTORY_STATES[seq - 1], HISTORY_STATES[seq]
                    copy.write_row((i, f"B{i:09d}", seq, trigger, frm, to, "C", "conseiller", AT, AT,
                                    f"h{seq}-{i}", "{}", "0" * 64, f"{i:064x}"))  # fmt: skip
        columns = "event_id, type, case_reference, payload_sha256, occurred_at, applied_at"
        with cur.copy(f"COPY processed_event ({columns}) FROM STDIN") as copy:
            for i in range(1, cases + 1):
                for seq, kind in enumerate(("orientation_proposed", "diagnostic_done", "contract_signed"), 1):
                    copy.write_row((f"h{seq}-{i}", kind, f"B{i:09d}", "0" * 64, AT, AT))
        columns = "case_id, kind, due_date, status, created_at, closed_at, note"
        with cur.copy(f"COPY reminder ({columns}) FROM STDIN") as copy:
            for i in range(1, cases + 1):
                copy.write_row(
                    (i, "convocation_en_retard", START, "cancelled", now, now, "an appointment was planned")
                )
                copy.write_row((i, "premiers_rdv_non_tenus", START + timedelta(31), "queued", now, now, None))
        cur.execute("SELECT setval('person_id_seq', %s), setval('case_file_id_seq', %s)", (cases, cases))
        cur.execute("ANALYZE")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def renewals(first: int, count: int, tag: str) -> list[dict[str, Any]]:
    at = datetime(2026, 6, 1, 10, tzinfo=UTC).isoformat()
    return [
        {"event_id": f"{tag}-{i}", "type": "renewal_decided", "occurred_at": at,
         "actor": {"id": "C", "role": "conseiller"}, "case_ref": f"B{i:09d}", "decided_by": "commission"}
        for i in range(first, first + count)
    ]  # fmt: skip


def floor(url: str, first: int, count: int, per_transaction: int = BATCH) -> float:
    """The same writes, raw: update the case row and insert one log row, `per_transaction`
    events per commit."""
    new_end = period_end(START, 12).isoformat()
    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        for lo in range(first, first + count, per_transaction):
            ids = list(range(lo, min(lo + per_transaction, first + count)))
            cur.executemany(
                "UPDATE case_file SET state = 'renouvellement', renewal_count = 1, contract_end = %s, "
                "updated_at = now() WHERE id = %s",
                [(new_end, i) for i in ids],
            )
            cur.executemany(
                "INSERT INTO transition_log (case_id, case_reference, seq, trigger, from_state, to_state, "
                "actor_id, actor_role, occurred_at, recorded_at, event_id, reason, details, prev_hash, hash) "
                "VALUES (%s, %s, 4, 'renouveler', 'contrat', 'renouvellement', 'C', 'conseiller', now(), "
                "now(), %s, NULL, '{}', %s, %s)",
                [(i, f"B{i:09d}", f"floor-{i}", "0" * 64, f"{i:064d}") for i in ids],
            )
            conn.commit()
    return count / (time.perf_counter() - started)


AT = "2026-06-01T10:00:00+00"
LOG_COLUMNS = (
    "case_id, case_reference, seq, trigger, from_state, to_state, actor_id, actor_role, "
    "occurred_at, recorded_at, event_id, details, prev_hash, hash"
)


def _copy_log_and_processed_rows(cur: psycopg.Cursor[Any], ids: list[int]) -> None:
    with cur.copy(f"COPY transition_log ({LOG_COLUMNS}) FROM STDIN") as copy:
        for i in ids:
            row = (i, f"B{i:09d}", 4, "renouveler", "contrat", "renouvellement", "C", "conseiller")
            copy.write_row((*row, AT, AT, f"all-{i}", "{}", "0" * 64, f"{i:064d}"))
    columns = "event_id, type, case_reference, payload_sha256, occurred_at, applied_at"
    with cur.copy(f"COPY processed_event ({columns}) FROM STDIN") as copy:
        for i in ids:
            copy.write_row((f"all-{i}", "renewal_decided", f"B{i:09d}", "0" * 64, AT, AT))


def floor_all(url: str, first: int, count: int) -> float:
    """Every write the service makes for a renewal sent in a Celery batch, raw: the inbox rows
    stored then settled, the case row (its next reminder day and log head with it), the log row
    and the processed-event row; 500 events per transaction, as the worker's chunks."""
    new_end = period_end(START, 12)
    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        for lo in range(first, first + count, BATCH):
            ids = list(range(lo, min(lo + BATCH, first + count)))
            columns = "submission, position, sender, source, event_id, case_reference, payload, status, "
            columns += "accepted_at, queued_at, attempts"
            with cur.copy(f"COPY inbox_event ({columns}) FROM STDIN") as copy:
                for n, i in enumerate(ids):
                    copy.write_row((f"floor-{lo}", n, "celery:bench", f"bench#{n}", f"all-{i}", f"B{i:09d}",
                                    "{}", "pending", AT, AT, 0))  # fmt: skip
            conn.commit()
            cur.execute(
                "UPDATE inbox_event SET attempts = 1, claimed_at = now() WHERE submission = %s "
                "AND status = 'pending' RETURNING id, payload",
                (f"floor-{lo}",),
            )
            inbox = [row_id for row_id, _ in cur.fetchall()]
            conn.commit()
            cur.executemany(
                "UPDATE case_file SET state = 'renouvellement', renewal_count = 1, contract_end = %s, "
                "renewal_date = %s, next_reminder_on = %s, log_seq = 4, log_hash = %s, updated_at = now() "
                "WHERE id = %s",
                [(new_end, START, new_end - timedelta(30), f"{i:064d}", i) for i in ids],
            )
            _copy_log_and_processed_rows(cur, ids)
            cur.execute(
                "UPDATE inbox_event SET status = 'applied', settled_at = now() WHERE id = ANY(%s)", (inbox,)
            )
            conn.commit()
    return count / (time.perf_counter() - started)


def direct(url: str, first: int, count: int) -> tuple[float, float]:
    """Events/s through `ingest_items` in this process, and its CPU time per event (µs): the
    figure other processes on the machine do not move."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    ctx = Context.open(UnitOfWork(sessions), SystemClock(), load_book())
    events = renewals(first, count, "direct")
    started, cpu = time.perf_counter(), time.process_time()
    for lo in range(0, count, BATCH):
        chunk = events[lo : lo + BATCH]
        items = [Item(f"bench#{i}", json.dumps(e)) for i, e in enumerate(chunk)]
        report = ingest_items(UnitOfWork(sessions), ctx, items)
        assert report.applied == len(chunk), report.summary()
    rate = count / (time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu) / count * 1e6
    engine.dispose()
    return rate, cpu_us


class Worker:
    def __init__(self, url: str, broker: str, concurrency: int) -> None:
        env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker}
        self.log = Path(tempfile.mkdtemp()) / "worker.log"
        argv = ["worker", "--loglevel", "WARNING", "--concurrency", str(concurrency), "--queues", QUEUE,
                "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", *argv],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        time.sleep(4)
        if self.process.poll() is not None:
            raise RuntimeError(self.log.read_text())

    def peak_memory_mb(self) -> tuple[float, float]:
        """VmHWM (peak resident memory) of the main process and the largest child, in MB. Children
        are replaced after ACCOMPAGNEMENT_MAX_TASKS_PER_CHILD tasks, so pids are not followed."""
        main = _vmhwm(self.process.pid)
        children = [_vmhwm(pid) for pid in _children(self.process.pid)]
        return main, max(children, default=0.0)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def _vmhwm(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def through_celery(url: str, broker: str, events: list[dict[str, Any]], batch: int) -> float:
    client = Celery("bench", broker=broker)
    client.conf.update(task_serializer="json", accept_content=["json"])
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(ProcessedEvent)) or 0
    started = time.perf_counter()
    with client.connection_for_write() as conn:
        for lo in range(0, len(events), batch):
            chunk = events[lo : lo + batch]
            if batch == 1:
                client.send_task(
                    "accompagnement.apply_event", args=[chunk[0], "bench"], queue=QUEUE, connection=conn
                )
            else:
                client.send_task(
                    "accompagnement.apply_batch", args=[chunk, "bench"], queue=QUEUE, connection=conn
                )
    # Watch the broker, not the database: counting a growing table every few milliseconds would
    # take PostgreSQL's time from the path being measured.
    queue = redis.Redis.from_url(broker)
    while queue.llen(QUEUE) or queue.hlen("unacked"):
        time.sleep(0.02)
    # A message the worker has popped but not yet recorded as unacknowledged is in neither: the
    # broker can look empty a moment before the last batch is applied.
    _wait_applied(url, before + len(events))
    rate = len(events) / (time.perf_counter() - started)
    engine.dispose()
    return rate


def cpu_seconds() -> float:
    """Seconds for a fixed pure-Python loop, median of 3: tells how fast this machine is today,
    since the same 2-core machine kind has been seen to run the whole benchmark 3× slower."""
    runs = []
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(5_000_000):
            total += i
        runs.append(time.perf_counter() - started)
    return sorted(runs)[1]


SENDERS = 8


def _serve(url: str, broker: str, processes: int) -> tuple[subprocess.Popen[bytes], str, str]:
    """`accompagnement web serve` on a free port (with `processes` uvicorn processes), and a
    token for the bench's system."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        token = create_token(session, "bench", datetime.now(UTC), Partner.FRANCE_TRAVAIL)
        session.commit()
    engine.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker,
           "ACCOMPAGNEMENT_WEB_SECRET": "bench-" + "s" * 40}  # fmt: skip
    log = Path(tempfile.mkdtemp()) / "web.log"  # read it if a request fails
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "accompagnement"), "--database-url", url, "web", "serve",
         "--port", str(port), "--workers", str(processes)],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/api/openapi.json", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the web server did not start: {log.read_text()}") from None
            time.sleep(0.2)
    return process, base, token


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and of the live processes of its group (the
    door's uvicorn processes), from /proc/<pid>/stat."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if stat.parent.name == str(pid) or int(fields[2]) == pid:  # the process, or one of its group
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _post_all(base: str, token: str, events: list[dict[str, Any]], rate: float | None) -> float:
    """SENDERS threads, each posting its share one request at a time (paced to `rate` in all);
    the rate the door actually took them at."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()

    def send(share: list[tuple[int, dict[str, Any]]]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for index, event in share:
                if rate is not None:
                    wait = started + index / rate - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                answer = client.post("/api/events", json=event)
                assert answer.status_code == 202, answer.text

    shares = [list(enumerate(events))[k::SENDERS] for k in range(SENDERS)]
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, shares))
    return len(events) / (time.perf_counter() - started)


def _wait_applied(url: str, total: int, timeout: float = 300) -> None:
    """Until `total` events are applied (a processed-event row each)."""
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    with make_session_factory(engine)() as session:
        while (done := session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0) < total:
            session.rollback()
            if time.monotonic() > deadline:
                raise AssertionError(f"{done} of {total} events applied after {timeout:.0f} s")
            time.sleep(0.1)
    engine.dispose()


def _delays(url: str, tag: str) -> list[float]:
    """Seconds from acceptance (inbox row) to applied (processed-event row), per event."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(InboxEvent.accepted_at, ProcessedEvent.applied_at)
            .join(ProcessedEvent, ProcessedEvent.event_id == InboxEvent.event_id)
            .where(InboxEvent.event_id.like(f"{tag}-%"))
        ).all()
    engine.dispose()
    return sorted((applied - accepted).total_seconds() for accepted, applied in rows)


def through_http(
    url: str, broker: str, fast: list[dict[str, Any]], paced: list[dict[str, Any]], processes: int
) -> tuple[float, float, float, list[float]]:
    """Events/s applied when the senders go as fast as they can, and the door's CPU time per
    request then (ms); the rate the door took the paced run at (OFFERED if it kept up) and that
    run's delays from acceptance to applied."""
    server, base, token = _serve(url, broker, processes)
    try:
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            before = session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0
        engine.dispose()
        started, cpu = time.perf_counter(), _cpu_seconds(server.pid)
        _post_all(base, token, fast, None)
        door_ms = (_cpu_seconds(server.pid) - cpu) / len(fast) * 1000
        _wait_applied(url, before + len(fast))
        rate = len(fast) / (time.perf_counter() - started)
        taken = _post_all(base, token, paced, OFFERED)
        _wait_applied(url, before + len(fast) + len(paced))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return rate, taken, door_ms, _delays(url, paced[0]["event_id"].rsplit("-", 1)[0])


OFFERED = 500.0  # events/s offered in the paced run


def main() -> None:
    parser = common.parser(__doc__, 100_000, broker=True)
    parser.add_argument("--events", type=int, default=20_000, help="events per path (single: a tenth)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--door-processes", type=int, default=1, help="`web serve --workers`")
    parser.add_argument(
        "--only-http", action="store_true", help="the one-by-one floor and the HTTP door alone"
    )
    args = parser.parse_args()
    n = args.events
    fast, paced = n // 4, min(n // 4, 2_500)
    needed = 4 * n + 2 * (n // 10) + fast + paced
    if args.cases < needed:
        parser.error(f"--cases must be at least {needed} for --events {n}")
    url, broker = args.database_url, args.broker_url
    redis.Redis.from_url(broker).flushdb()
    print(f"machine: a 5,000,000-step Python loop takes {cpu_seconds():.2f} s (median of 3)")
    t = time.perf_counter()
    build(url, args.cases)
    print(
        f"built {args.cases:,} cases under contract in {time.perf_counter() - t:.1f} s ({url.split('@')[-1]})"
    )
    floors: dict[str, float] = {}
    rates: dict[str, float] = {}
    if not args.only_http:
        floors["floor (raw SQL)"] = floor(url, 1, n)
        floors["floor, all the writes"] = floor_all(url, 3 * n + n // 10 + 1, n)
        rates.update(floors)
    one_by_one = floor(url, 4 * n + n // 10 + fast + paced + 1, n // 10, per_transaction=1)
    direct_cpu = None
    if not args.only_http:
        rates["direct batch path"], direct_cpu = direct(url, n + 1, n)
    worker = Worker(url, broker, args.concurrency)
    memory = []
    try:
        memory.append(worker.peak_memory_mb())
        if not args.only_http:
            rates["celery batch path"] = through_celery(url, broker, renewals(2 * n + 1, n, "celery"), BATCH)
            memory.append(worker.peak_memory_mb())
            rates["celery single-event tasks"] = through_celery(
                url, broker, renewals(3 * n + 1, n // 10, "single"), 1
            )
            memory.append(worker.peak_memory_mb())
        http_first = 4 * n + n // 10 + 1
        rates[f"http, {SENDERS} senders, 1 event each"], taken, door_ms, delays = through_http(
            url,
            broker,
            renewals(http_first, fast, "http"),
            renewals(http_first + fast, paced, "paced"),
            args.door_processes,
        )
        memory.append(worker.peak_memory_mb())
    finally:
        worker.stop()
    _report(n, fast, rates, floors, one_by_one)
    if direct_cpu is not None:
        print(f"\nthe direct batch path: {direct_cpu:.0f} µs of CPU per event in the process applying them")
    p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
    print(f"\nhttp paced at {OFFERED:.0f} events/s offered, taken at {taken:.0f}/s ({len(delays):,} events): "
          f"from acceptance to applied p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; the door's "
          f"process: {door_ms:.1f} ms of CPU per request, {_per_commit(url, 'http'):.1f} events "
          "per commit")  # fmt: skip
    print(
        "\nworker peak memory (VmHWM, MB): at start"
        + ("" if args.only_http else " / after the batches / after the single tasks")
        + " / after http"
    )
    print("  main process:  " + " / ".join(f"{main:.0f}" for main, _ in memory))
    print("  largest child: " + " / ".join(f"{child:.0f}" for _, child in memory))


def _report(n: int, fast: int, rates: dict[str, float], floors: dict[str, float], one_by_one: float) -> None:
    """The table: each path's events/s and its ratio to each floor measured in this run."""
    print(f"\n({n:,} events each; single-event and one per transaction: {n // 10:,}; http: {fast:,})")
    base, everything = floors.get("floor (raw SQL)"), floors.get("floor, all the writes")
    header = f"{'of floor':>9} {'of all-writes floor':>20} {'of one-by-one floor':>20}"
    print(f"{'path':28} {'events/s':>10} {header}")
    for name, rate in {"floor, one per transaction": one_by_one, **rates}.items():
        ratios = [f"{rate / floor_rate:>{width}.0%}" if floor_rate else f"{'—':>{width}}"
                  for floor_rate, width in ((base, 9), (everything, 20), (one_by_one, 20))]  # fmt: skip
        print(f"{name:28} {rate:>10,.0f} {' '.join(ratios)}")


def _per_commit(url: str, tag: str) -> float:
    """Events stored per door transaction: the door's group commit gives each group one
    submission."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        events, groups = session.execute(
            select(func.count(), func.count(InboxEvent.submission.distinct())).where(
                InboxEvent.event_id.like(f"{tag}-%")
            )
        ).one()
    engine.dispose()
    return float(events) / groups if groups else 0.0


if __name__ == "__main__":
    main()
