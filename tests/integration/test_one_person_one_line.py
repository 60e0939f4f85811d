"""One person, one line: whatever the door, the number of worker processes or the fault, the
cases end as one process applying the same file leaves them (`tests/equivalence.py`).

About 3 000 events of two simulated départements (67 and 35: two months, after three of
warm-up), redeliveries and late events included. The reference is computed once per module;
every path then starts from empty tables, with real workers (two processes each), the real
Redis, the scheduler's sweep beside them, and, for the HTTP paths, `web serve`. On SQLite the
command's path runs without faults; PostgreSQL runs every path, and each with every fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import empty_tables
from tests.equivalence import (
    FAULTS,
    PATHS,
    Scenario,
    differences,
    reference,
    scenario,
    statuses,
    through,
    unlike,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return scenario(tmp_path_factory.mktemp("equivalence"), ("67", "35"), months=2, warm_up=3)


@pytest.fixture(scope="module")
def expected(engine: Engine, simulated: Scenario) -> Iterator[dict[str, list[Any]]]:
    empty_tables(engine)
    found = reference(engine, simulated)
    empty_tables(engine)
    assert len(found["cases"]) > 250 and len(found["applied"]) > 2_500  # a real sample
    yield found


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("path", PATHS)
def test_every_path_gives_the_cases_of_one_process(
    path: str, fault: str, db: Engine, database_url: str, broker_url: str, simulated: Scenario,
    expected: dict[str, list[Any]], tmp_path: Path,
) -> None:  # fmt: skip
    if db.dialect.name != "postgresql" and (fault != "no fault" or path != "celery"):
        pytest.skip("SQLite runs the command's path without faults; PostgreSQL runs them all")
    run = through(path, fault, db, database_url, broker_url, simulated, tmp_path)
    assert (run.struck > 0) == (fault != "no fault"), f"the fault struck {run.struck} time(s)"
    got = run.outcome
    assert set(statuses(db)) <= {"applied", "duplicate", "rejected"}
    assert differences(expected, got) == dict.fromkeys(expected, 0), unlike(expected, got)
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
    assert "Unrecoverable" not in logs
