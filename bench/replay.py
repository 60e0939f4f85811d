"""The replay check on PostgreSQL with a million cases: time, memory, and the raw-SQL floor.

    python -m bench.replay [--cases 1000000] [--database-url …]

Builds the cases (not measured) from a real simulated year: the demo's own run for one small
département, through the service, gives cases with the log rows the service writes (opening,
binôme, diagnostic, contract, renewal, revue flags and acts, exits); the database then copies
them, server-side, under new references until it holds N cases. (The copies keep their rows'
hashes, made for the original references: `audit verify` would refuse them, the replay does not
read hashes but the chain head on each case row, copied with it.)

Then, alternated, twice each:
- floor: raw SQL reading the same case rows and log rows in the same ranges of ids, nothing done
  with them: what reading alone costs;
- replay: `accompagnement audit replay`, in its own process, every case rebuilt and compared; its
  resident memory (VmRSS) sampled every half second, to show it stays flat.

Prints seconds, cases and rows per second, the ratio to the floor, and the memory samples.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import common
from bench.ingest import _libpq, cpu_seconds
from models import make_engine
from workflow.demo.run import DemoSettings, run_demo

ROOT = Path(__file__).resolve().parents[1]
RANGE = 2_000  # the replay's range of ids (point_in_time.RANGE)
CASE_COLUMNS = (
    "reference, person_id, convention_code, convention_version_id, agence, state, conseiller_id, "
    "referent_social_id, orienteur_id, origin, consent, barriers, other_barrier_agreed, diagnostic_kind, "
    "conseiller_opinion, referent_opinion, orientation_date, diagnostic_date, contract_start, contract_end, "
    "renewal_count, renewal_date, exit_date, exit_reason, revue_flag, revue_flagged_on, entry_acted_on, "
    "exit_acted_on, next_reminder_on, log_seq, log_hash, created_at, updated_at"
)
LOG_COLUMNS = (
    "seq, trigger, from_state, to_state, actor_id, actor_role, occurred_at, recorded_at, event_id, reason, "
    "details, prev_hash, hash"
)


def build(url: str, cases: int, folder: Path) -> tuple[int, int]:
    """A simulated year through the service, then copies up to `cases`; (cases, log rows)."""
    engine = make_engine(url)
    with engine.begin() as conn:  # the demo wants an empty database: drop what a bench left
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    settings = DemoSettings(agences=2, conseillers_per_agence=2, output_dir=folder)
    run_demo(settings, url, progress=False)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        seed, top = conn.execute("SELECT count(*), max(id) FROM case_file").fetchone() or (0, 0)
        copies = -(-cases // seed) - 1
        columns = CASE_COLUMNS.replace("reference, ", "")
        conn.execute(
            f"INSERT INTO case_file (id, reference, {columns}) "
            f"SELECT c.id + k * %s, c.reference || '-' || k, {_prefixed(columns)} "
            "FROM case_file c, generate_series(1, %s) k WHERE c.id + k * %s <= %s + %s",
            (top, copies, top, top, cases - seed),
        )
        conn.execute(
            f"INSERT INTO transition_log (case_id, case_reference, {LOG_COLUMNS}) "
            f"SELECT t.case_id + k * %s, t.case_reference || '-' || k, {_prefixed(LOG_COLUMNS, 't')} "
            "FROM transition_log t, generate_series(1, %s) k "
            "WHERE EXISTS (SELECT 1 FROM case_file c WHERE c.id = t.case_id + k * %s)",
            (top, copies, top),
        )
        conn.execute("SELECT setval('case_file_id_seq', (SELECT max(id) FROM case_file))")
        conn.execute("ANALYZE")
        made, rows = conn.execute(
            "SELECT (SELECT count(*) FROM case_file), (SELECT count(*) FROM transition_log)"
        ).fetchone() or (0, 0)
    return made, rows


def _prefixed(columns: str, alias: str = "c") -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def floor(url: str) -> float:
    """Read every case row and log row by the replay's ranges of ids, and nothing more."""
    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn:
        last = 0
        while True:
            ids = conn.execute(
                f"SELECT id, {CASE_COLUMNS} FROM case_file WHERE id > %s ORDER BY id LIMIT %s", (last, RANGE)
            ).fetchall()
            if not ids:
                break
            first, last = ids[0][0], ids[-1][0]
            conn.execute(
                f"SELECT case_id, case_reference, {LOG_COLUMNS} FROM transition_log "
                "WHERE case_id BETWEEN %s AND %s ORDER BY case_id, seq",
                (first, last),
            ).fetchall()
    return time.perf_counter() - started


def replay(url: str) -> tuple[float, list[float], str]:
    """The command in its own process: seconds, VmRSS samples (MB), its last lines."""
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workflow", "audit", "replay"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples: list[float] = []
    while proc.poll() is None:
        samples.append(_rss(proc.pid))
        time.sleep(0.5)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"replay failed ({proc.returncode}): {err or out[-2000:]}")
    return elapsed, [s for s in samples if s], out.strip().splitlines()[-1]


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = common.parser(__doc__, 1_000_000, broker=False)
    args = parser.parse_args()
    print(f"machine: a 5,000,000-step Python loop takes {cpu_seconds():.2f} s (median of 3)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        cases, rows = build(args.database_url, args.cases, Path(folder))
    print(f"built {cases:,} cases with {rows:,} log rows in {time.perf_counter() - started:.0f} s")
    floors, replays = [], []
    for _ in range(2):
        floors.append(floor(args.database_url))
        replays.append(replay(args.database_url))
    floor_s = statistics.median(floors)
    for elapsed, samples, said in replays:
        tenth = max(1, len(samples) // 10)
        shown = ", ".join(f"{s:.0f}" for s in samples[::tenth])
        rate = f"{cases / elapsed:,.0f} cases/s, {rows / elapsed:,.0f} rows/s"
        print(f"replay: {elapsed:.1f} s ({rate}), {elapsed / floor_s:.1f}× the floor; "
              f"VmRSS MB every tenth: {shown}; peak {max(samples):.0f}")  # fmt: skip
        print(f"        {said}")
    runs = ", ".join(f"{f:.1f}" for f in floors)
    print(f"floor (raw SQL reads of the same rows): {floor_s:.1f} s (runs: {runs})")


if __name__ == "__main__":
    main()
