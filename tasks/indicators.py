"""The quarterly indicators as a task: the scheduler queues one when a quarter is over.

Writes the CSV and PNG of every département with cases, and of all together, in
ACCOMPAGNEMENT_INDICATORS_DIR (default ./indicateurs). The figures are facts of the past
(`workflow.application.indicators`), so running it again rewrites the same files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tasks.app import app
from tasks.runtime import runtime
from workflow.application.indicators import Quarter, compute, departements, write_files


@app.task(name="accompagnement.quarterly_indicators")
def quarterly_indicators(quarter: str) -> dict[str, Any]:
    rt = runtime()
    period = Quarter.parse(quarter)
    folder = Path(os.environ.get("ACCOMPAGNEMENT_INDICATORS_DIR", "indicateurs"))
    files: list[str] = []
    with rt.uow() as uow:
        for departement in [*departements(uow.session), None]:
            figures = compute(uow.session, rt.ctx.book, period, departement)
            files += [str(path) for path in write_files(figures, folder)]
    return {"quarter": quarter, "files": files}
