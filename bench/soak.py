"""Soak: a full simulated year of events through every path and fault, against one process.

The demo's year (Bas-Rhin, 3 agences, 2 conseillers each, 12 months after 12 of warm-up: about
39 000 events, redeliveries and late events included) is applied once by a single process (the
reference), then through each path (the command's `--via celery` with two worker processes,
four routed by département, HTTP batches of 100 from one sender, HTTP one by one from eight
senders) with each fault (none, workers SIGKILLed three times, the broker's messages and
connections lost, the workers' database connections cut), with the scheduler's sweep beside the
workers. For each run it prints the events lost (applied by the reference, not by the run),
doubled (more log rows for an event than the reference), the cases that differ, and the seconds
from the first event sent to the last settled. Not part of CI: about half an hour.

    python -m bench.soak [--paths celery "http one by one, 8 senders"] [--faults "no fault"]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import parser
from models import make_engine
from tests.conftest import empty_tables
from tests.equivalence import FAULTS, PATHS, reference, scenario, through
from workflow.adapters import migrations


def compare(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> tuple[int, int, int]:
    """(events lost, events doubled, cases differing)."""
    lost = len(set(expected["applied"]) - set(got["applied"]))
    per_event = Counter(row[7] for row in expected["log"] if row[7])
    doubled = sum(
        max(0, n - per_event[event]) for event, n in Counter(r[7] for r in got["log"] if r[7]).items()
    )
    cases = len({row[0] for row in set(expected["cases"]) ^ set(got["cases"])})
    return lost, doubled, cases


def main(argv: list[str] | None = None) -> int:
    made = parser(__doc__, cases=0)
    made.add_argument("--paths", nargs="*", default=PATHS, choices=PATHS)
    made.add_argument("--faults", nargs="*", default=list(FAULTS), choices=list(FAULTS))
    made.add_argument("--months", type=int, default=12)
    args = made.parse_args(argv)
    engine = make_engine(args.database_url)
    migrations.upgrade(engine)
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    year = scenario(folder, ("67", "35"), months=args.months, warm_up=12, agences=2)
    empty_tables(engine)
    started = time.monotonic()
    expected = reference(engine, year)
    print(f"{len(year.events)} events, {len(expected['cases'])} cases; one process: "
          f"{time.monotonic() - started:.0f} s, {len(expected['applied'])} applied, "
          f"{len(expected['rejected'])} rejected")  # fmt: skip
    print(f"{'path':<28} {'fault':<26} {'struck':>6} {'lost':>5} {'doubled':>8} {'cases differing':>16} "
          f"{'settled in':>11}")  # fmt: skip
    failed = False
    for path in args.paths:
        for fault in args.faults:
            empty_tables(engine)
            run = through(path, fault, engine, args.database_url, args.broker_url, year, folder)
            lost, doubled, cases = compare(expected, run.outcome)
            failed |= bool(lost or doubled or cases)
            print(f"{path:<28} {fault:<26} {run.struck:>6} {lost:>5} {doubled:>8} {cases:>16} "
                  f"{run.seconds:>9.0f} s", flush=True)  # fmt: skip
    empty_tables(engine)
    engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
