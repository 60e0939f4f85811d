"""Every agency's monthly revue in one run, on PostgreSQL: time and memory.

    python -m bench.revues [--cases 1000000] [--agencies 900] [--database-url …]

Builds N cases spread over the agencies (COPY, not measured): most under contract with contract
ends spread over the coming months, a share signed or closed during the month before the revue
(entries and exits to act), some still in repérage past the entry delay. Then produces the revue of every
agency for 2026-06 as the scheduler's tasks do (`revue.production.produce`: the tableau, the revue
row and its email in the outbox), then writes each one's XLSX and CSV, and prints the time of
each step, the revues per second, and the process's peak memory after each tenth of the agencies
(flat: one agency's cases at a time). Then the same revues again as production makes them: one
task per agency sent to a real worker with 2 processes, which produces, writes the files and
sends the email; timed until the queue is drained, with the worker's peak memory.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery import Celery

from bench import common
from bench.ingest import QUEUE, Worker, _libpq, cpu_seconds, fresh_schema, insert_people
from models import make_engine, make_session_factory
from workflow.adapters import revue_files
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.revue.production import agencies, find, produce
from workflow.application.service_context import Context
from workflow.domain.clock import ManualClock
from workflow.domain.dates import add_months

MONTH = "2026-06"
REVUE_DAY = date(2026, 6, 1)


def build(url: str, cases: int, agency_count: int) -> None:
    version = fresh_schema(url)
    now = datetime.now(UTC).isoformat()
    columns = (
        "id, reference, person_id, convention_code, convention_version_id, agence, state, conseiller_id, "
        "referent_social_id, orienteur_id, origin, consent, barriers, other_barrier_agreed, diagnostic_kind, "
        "orientation_date, contract_start, contract_end, renewal_count, exit_date, exit_reason, "
        "created_at, updated_at"
    )
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        insert_people(cur, cases)
        with cur.copy(f"COPY case_file ({columns}) FROM STDIN") as copy:
            for i in range(1, cases + 1):
                copy.write_row(_case_row(i, agency_count, version, now))
        cur.execute("SELECT setval('person_id_seq', %s), setval('case_file_id_seq', %s)", (cases, cases))
        cur.execute("ANALYZE")


def _case_row(i: int, agency_count: int, version: int, now: str) -> tuple[object, ...]:
    """Case i: 5 % signed last month (entries), 3 % closed last month (exits), 2 % in repérage
    past the entry delay, the rest signed one to six months ago (ends spread over five months)."""
    kind = i % 100
    signed = REVUE_DAY - timedelta(days=1 + i % 28) if kind < 5 else REVUE_DAY - timedelta(days=29 + i % 150)
    start: date | None = signed
    end: date | None = add_months(signed, 6) - timedelta(1)
    state, exit_date, exit_reason, oriented = "contrat", None, None, signed - timedelta(15)
    if 5 <= kind < 8:
        state, exit_date, exit_reason = "sortie", REVUE_DAY - timedelta(days=1 + i % 28), "emploi"
    if 8 <= kind < 10:
        state, start, end, oriented = "reperage", None, None, REVUE_DAY - timedelta(days=30 + i % 20)
    agence = f"A{(i + i // 100) % agency_count:04d}"  # not in step with i % 100 above
    return (i, f"B{i:09d}", i, "67", version, agence, state, "C", "R", "C", "france_travail", True,
            '["logement", "mobilite"]', False, "partage" if start else None, oriented, start, end, 0,
            exit_date, exit_reason, now, now)  # fmt: skip


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = common.parser(__doc__, 1_000_000, broker=True)
    parser.add_argument("--agencies", type=int, default=900)
    args = parser.parse_args()
    url = args.database_url
    print(f"machine: a 5,000,000-step Python loop takes {cpu_seconds():.2f} s (median of 3)")
    started = time.perf_counter()
    build(url, args.cases, args.agencies)
    print(f"built {args.cases:,} cases in {args.agencies} agencies in {time.perf_counter() - started:.0f} s")
    in_process(url, args.agencies)
    with psycopg.connect(_libpq(url)) as conn:  # the same revues again, through the workers
        conn.execute("DELETE FROM email_reminder; DELETE FROM email; DELETE FROM revue")
    through_celery(url, args.broker_url)


def in_process(url: str, agency_count: int) -> None:
    """One process, one agency after the other: the revue, then its files."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    clock = ManualClock(datetime.combine(REVUE_DAY, datetime.min.time(), UTC) + timedelta(hours=6))
    ctx = Context.open(UnitOfWork(sessions), clock, load_book())
    with sessions() as session:
        names = [agence for agence, _ in agencies(session)]
    peaks, rows = [], 0
    started = time.perf_counter()
    for index, agence in enumerate(names, start=1):
        revue = produce(UnitOfWork(sessions), ctx, agence, MONTH, by="bench")
        assert revue is not None
        rows += sum(len(section) for section in revue.content.values())
        if index % max(1, len(names) // 10) == 0:
            peaks.append(peak_mb())
    produced = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    with sessions() as session:
        for agence in names:
            made = find(session, agence, MONTH)
            assert made is not None
            revue_files.write(made, folder)
            session.expunge(made)
    written = time.perf_counter() - started
    print(f"\nin one process: {len(names)} revues ({rows:,} rows of tableau) for {MONTH}")
    print(f"  produced (tableau, revue row, email in the outbox): {produced:6.1f} s "
          f"({len(names) / produced:.1f} revues/s)")  # fmt: skip
    print(f"  files written (XLSX and CSV):                        {written:6.1f} s")
    print(f"  in all:                                             {produced + written:6.1f} s")
    print("  peak memory (MB) after each tenth of the agencies: " + " / ".join(f"{p:.0f}" for p in peaks))
    engine.dispose()


def _unfinished(conn: psycopg.Connection[Any], revues: int) -> bool:
    """Revues not produced yet, or emails not sent yet."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM revue), (SELECT count(*) FROM email WHERE status <> 'sent')"
    ).fetchone()
    return row is None or row[0] < revues or row[1] > 0


def through_celery(url: str, broker: str) -> None:
    """As the scheduler does it: one `accompagnement.produce_revue` task per agency, sent to a real
    worker (2 processes), which produces the revue, writes its files, and sends its email (an
    `.eml` with the tableau attached). Timed until the queue is drained."""
    os.environ["ACCOMPAGNEMENT_REVUE_DIR"] = tempfile.mkdtemp()
    os.environ["ACCOMPAGNEMENT_OUTBOX_DIR"] = tempfile.mkdtemp()
    os.environ.pop("ACCOMPAGNEMENT_SMTP_HOST", None)
    queue = redis.Redis.from_url(broker)
    queue.flushdb()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        names = [agence for agence, _ in agencies(session)]
    worker = Worker(url, broker, os.cpu_count() or 2)
    client = Celery("bench", broker=broker)
    client.conf.update(task_serializer="json", accept_content=["json"])
    try:
        started = time.perf_counter()
        with client.connection_for_write() as conn:
            for agence in names:
                client.send_task(
                    "accompagnement.produce_revue", args=[agence, MONTH], queue=QUEUE, connection=conn
                )
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            # Done when every revue's email is sent: the queue alone can look empty for an instant
            # between a task's acknowledgement and the sending it queued.
            while queue.llen(QUEUE) or queue.hlen("unacked") or _unfinished(conn, len(names)):
                time.sleep(0.2)
        elapsed = time.perf_counter() - started
        main, child = worker.peak_memory_mb()
    finally:
        worker.stop()
        queue.flushdb()
    with psycopg.connect(_libpq(url)) as conn:
        done = conn.execute("SELECT count(*) FROM revue").fetchone()
        sent = conn.execute("SELECT count(*) FROM email WHERE status = 'sent'").fetchone()
    print(
        f"\nthrough a real worker (2 processes): {done[0] if done else 0} revues produced, files written, "
        f"{sent[0] if sent else 0} emails sent (.eml with attachments) in {elapsed:.1f} s (target < 60 s)"
    )
    print(f"  worker peak memory (VmHWM, MB): main {main:.0f}, largest child {child:.0f}")
    engine.dispose()


if __name__ == "__main__":
    main()
