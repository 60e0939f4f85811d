"""The daily reminder scan as a task: the scheduler queues it, a worker runs it.

`accompagnement.scan_reminders(day, digest)` runs `reminders.daily_scan.scan` for the day; the
emails it writes are queued for sending when its transactions commit (the runtime's unit of
work), and emails left unsent earlier are queued again, as `reminders run` does by hand.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tasks.app import app
from tasks.runtime import queue_emails, runtime
from workflow.application import outbox
from workflow.application.reminders import daily_scan


@app.task(name="accompagnement.scan_reminders")
def scan_reminders(day: str, digest: bool = False) -> dict[str, Any]:
    rt = runtime()
    report = daily_scan.scan(rt.uow(), rt.ctx, date.fromisoformat(day), digest=digest)
    with rt.uow() as uow:
        left = outbox.unsent(uow.session, rt.ctx)
    if left:
        queue_emails(left)
    return {"day": day, "due": report.due, "queued": sum(report.queued.values()), "emails": report.emails,
            "cancelled": sum(report.cancelled.values()), "requeued": len(left)}  # fmt: skip
