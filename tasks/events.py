"""Tasks that apply events: thin wrappers over `workflow.ingest.ingest_items`.

Other systems may send them by name:
    app.send_task("accompagnement.apply_batch", args=[[event, event, …], "their-system"])
    app.send_task("accompagnement.apply_event", args=[event, "their-system"])

Delivery is at least once; the processed-event table makes every replay a no-op, so a retry
or a redelivery is always safe.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task

from tasks.app import app
from tasks.runtime import Runtime, runtime
from workflow.deliveries import MAX_DELIVERIES, count_delivery, forget_delivery, park
from workflow.errors import is_transient
from workflow.ingest import Raw, ingest_items

log = logging.getLogger(__name__)

MAX_RETRIES = 8  # transient failures: backoff 1, 2, 4 … 128 s (+ jitter), about 4 minutes in all
MAX_DEFERRALS = 4  # premature events tried again after 2, 4, 8, 16 s before being rejected


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter, so retrying workers do not move in step."""
    return random.uniform(0, min(128, 2**retries)) + 1


def _items(events: Any, source: str, lines: Any, names: Any) -> list[tuple[str, Raw]]:
    """Name each event for reports (file:line where known); a payload that is not a list
    becomes one bad item, so a malformed message is recorded rather than lost."""
    if not isinstance(events, list):
        return [(source, events)]
    if isinstance(names, list) and len(names) == len(events):
        return [(str(name), event) for name, event in zip(names, events, strict=True)]
    if isinstance(lines, list) and len(lines) == len(events):
        return [(f"{source}:{line}", event) for line, event in zip(lines, events, strict=True)]
    return [(f"{source}#{index}", event) for index, event in enumerate(events, start=1)]


def _apply(task: Task, events: Any, source: str, lines: Any, names: Any, deferrals: int) -> dict[str, Any]:
    rt = runtime()
    eager = bool(task.request.is_eager)
    key = f"{task.request.id}:{task.request.retries}"
    items = _items(events, source, lines, names)
    if not eager and count_delivery(rt.uow(), rt.ctx, key) > MAX_DELIVERIES:
        park(rt.uow(), rt.ctx, items, f"parked after {MAX_DELIVERIES} deliveries: the worker died each time")
        log.error("task %s parked after %d deliveries", key, MAX_DELIVERIES)
        return {"parked": len(items)}
    may_defer = deferrals < MAX_DEFERRALS and not eager
    try:
        report = ingest_items(rt.uow(), rt.ctx, items, defer_premature=may_defer, decoded=True)
    except Exception as exc:
        if is_transient(exc) and task.request.retries < MAX_RETRIES:
            log.warning("task %s: transient %s, retrying", key, type(exc).__name__)
            raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from exc
        raise
    finally:
        # Only a process that died keeps its count: anything that got here is not a crash.
        if not eager:
            _forget(rt, key)
    if report.deferred_items:
        wheres, raws = zip(*report.deferred_items, strict=True)
        apply_batch.apply_async(
            args=[list(raws), source],
            kwargs={"names": list(wheres), "deferrals": deferrals + 1},
            countdown=2 ** (deferrals + 1),
        )
    return report.as_dict()


def _forget(rt: Runtime, key: str) -> None:
    try:
        forget_delivery(rt.uow(), key)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("task %s: its delivery count row is left behind (%s); harmless", key, exc)


@app.task(name="accompagnement.apply_batch", bind=True, max_retries=MAX_RETRIES)
def apply_batch(
    self: Task,
    events: Any,
    source: str = "celery",
    lines: Any = None,
    names: Any = None,
    deferrals: int = 0,
) -> dict[str, Any]:
    """Apply a batch in the order given, by chunks of 500 events, one transaction each.

    `lines` (the events' line numbers in `source`) or `names` (one label per event, kept by
    deferred batches) make rejections point at their origin."""
    return _apply(self, events, source, lines, names, deferrals)


@app.task(name="accompagnement.apply_event", bind=True, max_retries=MAX_RETRIES)
def apply_event(self: Task, event: Any, source: str = "celery") -> dict[str, Any]:
    return _apply(self, [event], source, None, None, 0)
