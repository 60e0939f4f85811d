"""The monthly revue as a task: the scheduler queues one per agency, a worker produces it.

Produced once (unique agency and month, `revue.production.produce`) and written as XLSX and CSV in
ACCOMPAGNEMENT_REVUE_DIR (default ./revues).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tasks.app import app
from tasks.runtime import runtime
from workflow.adapters import revue_files
from workflow.application.revue.production import produce


@app.task(name="accompagnement.produce_revue")
def produce_revue(agence: str, month: str) -> dict[str, Any]:
    rt = runtime()
    revue = produce(rt.uow(), rt.ctx, agence, month)
    if revue is None:
        return {"agence": agence, "month": month, "produced": False}
    xlsx, table = revue_files.write(revue, Path(os.environ.get("ACCOMPAGNEMENT_REVUE_DIR", "revues")))
    return {
        "agence": agence,
        "month": month,
        "produced": True,
        "id": revue.id,
        "files": [str(xlsx), str(table)],
    }
