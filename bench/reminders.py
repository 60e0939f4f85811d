"""The daily reminder scan on PostgreSQL: its time follows what is due, not the number of cases.

    python -m bench.reminders [--cases 1000000] [--database-url …] [--broker-url …]

Builds N cases under contract (COPY, not measured) as the service leaves them: the first
appointments reminder already written (one queued row per case, history the scan must not
trip on), and the next reminder day on the case row, the expiry reminder 30 days before the end
(the plan itself is derived, not stored). Contract ends are spread so that on each of a run of
scan days a chosen share of the cases has its 30-day expiry reminder due that very day.

Each scan day is measured once: `daily_scan.scan` (query, plan derived, due-day check,
reminders and emails written, the cases' next day moved on, commit) plus queueing the sending
tasks to Redis (no worker consumes them).
Shares 0.25 %, 0.5 %, 1 % and 2 % of the cases, three rounds; the median is printed, with the
time per due reminder, which stays flat when the share grows: the cost follows the due count.
The floor is raw SQL doing the same reads and writes for 1 % (select the due cases, insert the
reminders, move the cases on, insert the emails, link them), no Python rule, in the same run.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import redis
from celery import Celery

from bench import common
from bench.ingest import _libpq, cpu_seconds, fresh_schema, insert_people
from models import make_engine, make_session_factory
from tasks.app import QUEUE
from tasks.runtime import DISPATCH_GROUP
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.reminders.daily_scan import scan
from workflow.application.reminders.planning import SCAN_BATCH
from workflow.application.service_context import Context
from workflow.domain.clock import ManualClock
from workflow.domain.dates import add_months

FIRST_SCAN = date(2026, 6, 1)
SHARES = (0.0025, 0.005, 0.01, 0.02)
ROUNDS = 3
FLOOR_SHARE = 0.01


def plan_days(cases: int) -> tuple[list[tuple[date, float, str]], list[int]]:
    """Scan days with what each measures, and for each case the day its 30-day reminder is due
    (offset from FIRST_SCAN; the rest fall long after the run)."""
    days: list[tuple[date, float, str]] = []
    for _ in range(ROUNDS):
        for share in SHARES:
            days.append((FIRST_SCAN + timedelta(len(days)), share, "service"))
        days.append((FIRST_SCAN + timedelta(len(days)), FLOOR_SHARE, "floor"))
    offsets: list[int] = []
    for index, (_, share, _) in enumerate(days):
        offsets += [index] * int(cases * share)
    if len(offsets) > cases:
        raise SystemExit(f"--cases {cases} is too small for the scan days")
    far = len(days) + 60
    offsets += [far + i % 200 for i in range(cases - len(offsets))]
    return days, offsets


def build(url: str, cases: int, offsets: list[int]) -> None:
    version = fresh_schema(url)
    now = datetime.now(UTC).isoformat()
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        insert_people(cur, cases)
        columns = (
            "id, reference, person_id, convention_code, convention_version_id, agence, state, conseiller_id, "
            "referent_social_id, orienteur_id, origin, consent, barriers, other_barrier_agreed, "
            "orientation_date, contract_start, contract_end, renewal_count, next_reminder_on, log_seq, "
            "created_at, updated_at"
        )
        ends = [FIRST_SCAN + timedelta(offset + 30) for offset in offsets]
        with cur.copy(f"COPY case_file ({columns}) FROM STDIN") as copy:
            for i, end in enumerate(ends, start=1):
                start = add_months(end + timedelta(1), -6)  # 6 months, seed 004 art. 2 g
                copy.write_row((i, f"B{i:09d}", i, "67", version, "A", "contrat", "C", "R", "C",
                                "france_travail", True, '["logement", "mobilite"]', False,
                                start - timedelta(15), start, end, 0, end - timedelta(30), 4,
                                now, now))  # fmt: skip
        columns = "case_id, kind, due_date, status, created_at, closed_at"
        with cur.copy(f"COPY reminder ({columns}) FROM STDIN") as copy:
            for i, end in enumerate(ends, start=1):
                start = add_months(end + timedelta(1), -6)
                copy.write_row((i, "premiers_rdv_non_tenus", start + timedelta(31), "queued", now, now))
        cur.execute("SELECT setval('person_id_seq', %s), setval('case_file_id_seq', %s)", (cases, cases))
        cur.execute("ANALYZE")


def floor(url: str, day: date) -> tuple[int, float]:
    """The same reads and writes in raw SQL, by rounds of SCAN_BATCH like the service, with no
    rule, no ORM and no task to queue: what the scan cannot go below."""
    started, done = time.perf_counter(), 0
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        while True:
            cur.execute(
                "SELECT id, contract_end, conseiller_id, referent_social_id FROM case_file "
                "WHERE next_reminder_on <= %s ORDER BY next_reminder_on, id LIMIT %s",
                (day, SCAN_BATCH),
            )
            rows = cur.fetchall()
            if not rows:
                break
            cases = [cid for cid, _, _, _ in rows]
            cur.execute(
                "INSERT INTO reminder (case_id, kind, due_date, status, created_at, closed_at) "
                "SELECT c, 'echeance_contrat', d, 'queued', now(), now() "
                "FROM unnest(%s::int[], %s::date[]) AS t(c, d) ON CONFLICT DO NOTHING RETURNING id",
                (cases, [end - timedelta(30) for _, end, _, _ in rows]),
            )
            ids = [rid for (rid,) in cur.fetchall()]
            cur.execute(
                "UPDATE case_file SET next_reminder_on = m.next FROM unnest(%s::int[], %s::date[]) "
                "AS m(id, next) WHERE case_file.id = m.id",
                (cases, [end - timedelta(7) for _, end, _, _ in rows]),
            )
            cur.execute(
                "INSERT INTO email (key, recipients, status, attempts, created_at) "
                "SELECT k, r::json, 'pending', 0, now() FROM unnest(%s::text[], %s::text[]) AS t(k, r) "
                "RETURNING id",
                ([f"floor:{rid}" for rid in ids], [f'["{c}", "{r}"]' for _, _, c, r in rows]),
            )
            email_ids = [e for (e,) in cur.fetchall()]
            cur.execute(
                "INSERT INTO email_reminder (email_id, reminder_id) "
                "SELECT * FROM unnest(%s::int[], %s::int[])",
                (email_ids, ids),
            )
            conn.commit()
            done += len(rows)
    return done, time.perf_counter() - started


def service(url: str, broker: str, day: date) -> tuple[int, int, float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    client = Celery("bench", broker=broker)
    client.conf.update(task_serializer="json", accept_content=["json"])
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    ctx = Context.open(UnitOfWork(sessions), clock, load_book())
    clock.set(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=5))
    with client.connection_for_write() as conn:

        def queue(email_ids: list[int]) -> None:
            for lo in range(0, len(email_ids), DISPATCH_GROUP):
                group = email_ids[lo : lo + DISPATCH_GROUP]
                client.send_task("accompagnement.send_emails", args=[group], queue=QUEUE, connection=conn)

        started = time.perf_counter()
        report = scan(UnitOfWork(sessions, on_commit=queue), ctx, day)
        elapsed = time.perf_counter() - started
    engine.dispose()
    return report.due, report.emails, elapsed


def main() -> None:
    parser = common.parser(__doc__, 1_000_000, broker=True)
    args = parser.parse_args()
    url = args.database_url
    redis.Redis.from_url(args.broker_url).flushdb()
    print(f"machine: a 5,000,000-step Python loop takes {cpu_seconds():.2f} s (median of 3)")
    days, offsets = plan_days(args.cases)
    started = time.perf_counter()
    build(url, args.cases, offsets)
    built = time.perf_counter() - started
    print(f"built {args.cases:,} cases and their reminder history in {built:.0f} s")
    timings: dict[float, list[tuple[int, float]]] = {share: [] for share in SHARES}
    floors: list[tuple[int, float]] = []
    for day, share, what in days:
        if what == "floor":
            floors.append(floor(url, day))
            continue
        due, emails, elapsed = service(url, args.broker_url, day)
        assert due == emails == int(args.cases * share), (day, due, emails)
        timings[share].append((due, elapsed))
    redis.Redis.from_url(args.broker_url).flushdb()
    floor_s = statistics.median(t for _, t in floors)
    print(f"\ndaily scan, {args.cases:,} cases, median of {ROUNDS} (scan + queueing the sending tasks):")
    print(f"{'due':>8} {'share':>7} {'seconds':>9} {'µs per due':>11} {'of floor time':>14}")
    for share, runs in timings.items():
        due = runs[0][0]
        seconds = statistics.median(t for _, t in runs)
        ratio = f"{seconds / floor_s:.1f}×" if share == FLOOR_SHARE else ""
        print(f"{due:>8,} {share:>7.2%} {seconds:>9.3f} {seconds / due * 1e6:>11.0f} {ratio:>14}")
    print(f"floor (raw SQL, {floors[0][0]:,} due): {floor_s:.3f} s")


if __name__ == "__main__":
    main()
