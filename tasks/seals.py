"""The daily seal of the transition log as a task: the scheduler queues it every night.

The key comes from ACCOMPAGNEMENT_AUDIT_KEY in the worker's environment (`audit.seals`); a
worker without it fails the task loudly rather than leaving days unsealed in silence.
"""

from __future__ import annotations

from typing import Any

from tasks.app import app
from tasks.runtime import runtime
from workflow.application.audit import seals


@app.task(name="accompagnement.seal_audit")
def seal_audit() -> dict[str, Any]:
    rt = runtime()
    made = seals.seal(rt.uow(), rt.ctx, seals.operator_key())
    return {"sealed": [row.day.isoformat() for row in made]}
