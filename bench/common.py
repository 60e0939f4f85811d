"""What every benchmark is given: how many cases, the PostgreSQL database and the Redis broker
(the services CI starts on this machine; `BENCH_DATABASE_URL` and `BENCH_BROKER_URL` name others)."""

from __future__ import annotations

import argparse
import os

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def parser(doc: str | None, cases: int, broker: bool = True) -> argparse.ArgumentParser:
    """The command line of a benchmark: its docstring's first paragraph, `--cases`,
    `--database-url` and (when it runs a worker) `--broker-url`."""
    made = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    made.add_argument("--cases", type=int, default=cases)
    made.add_argument("--database-url", default=DATABASE_URL)
    if broker:
        made.add_argument("--broker-url", default=BROKER_URL)
    return made
