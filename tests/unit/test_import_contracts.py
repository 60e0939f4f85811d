"""The house's direction of imports (docs/developing.md), as import-linter checks it: entry points →
composition root → application → adapters → models → domain, each exception named in
pyproject.toml. The same check runs in .ci/run (`lint-imports`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_contract_is_kept() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout, done.stdout[-2000:]


def test_a_command_loads_neither_celery_nor_the_web_until_it_needs_them() -> None:
    """`accompagnement case show` must not pay for Celery, FastAPI or APScheduler: the command
    line imports them inside the commands that start a worker, the console or the scheduler."""
    probe = (
        "import sys, workflow.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'celery', 'kombu', 'tasks', 'fastapi', 'web', 'apscheduler', 'scheduler', 'matplotlib'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
