"""Tasks that apply events: thin wrappers over `workflow.application.inbox`.

The doors store events in the inbox, then hand them to the workers. A batch (the CLI's
publisher, a Celery batch) goes as one `accompagnement.apply_inbox` message with its row ids.
Events sent one by one (`POST /api/events`, `accompagnement.apply_event`) are not applied one
transaction each: the door `notify`s, and one `accompagnement.drain_inbox` task at most per
WINDOW takes whatever has arrived by then, up to BATCH rows at a time, through the batch path.
Other systems may also send events by name; such a message is stored in the inbox first
(keyed by its task id, so a redelivery stores nothing twice), then applied:
    app.send_task("accompagnement.apply_batch", args=[[event, event, …], "their-system"])
    app.send_task("accompagnement.apply_event", args=[event, "their-system"])

With ACCOMPAGNEMENT_ROUTE_BY_DEPARTEMENT=1 every inbox row travels on its département's queue
(`accompagnement.events.67`; rows with no known département, and every other task, on the
default `accompagnement.events`), and a drain task takes only its département's rows: workers
on several machines share the load by département (`celery -A tasks worker -Q
accompagnement.events.35,accompagnement.events.22`), and a case's events never reach two of
them. Some worker must serve the default queue.

Delivery is at least once; an inbox row is applied only while pending, and the processed-event
table makes every replay a no-op, so a retry or a redelivery is always safe. A task that fails
on something unforeseen leaves its rows pending: the sweep queues them again, and a row taken
MAX_ATTEMPTS times is parked as rejected with its payload, never lost.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from typing import Any

import redis
from celery import Task

from tasks.app import QUEUE, app
from tasks.runtime import runtime
from workflow.application.inbox import (
    ANY_DEPARTEMENT,
    BATCH,
    DrainReport,
    Routed,
    as_text,
    drain,
    drain_waiting,
    receive,
)
from workflow.domain.errors import is_transient

log = logging.getLogger(__name__)

MAX_RETRIES = 8  # transient failures: backoff 1, 2, 4 … 128 s (+ jitter), about 4 minutes in all
MAX_DEFERRALS = 4  # premature events tried again after 2, 4, 8, 16 s before being rejected
# Events sent one by one wait at most this long for the micro-batch that applies them: long
# enough to gather what arrives meanwhile (hundreds of events a second make batches of tens),
# short beside a sender's patience.
WINDOW = 0.05
SMALL = 50  # a submission of fewer pending rows joins the micro-batches instead of its own task
_NOTIFIED = "accompagnement:inbox-notified"  # Redis key: a drain task is due within WINDOW
_redis: dict[str, redis.Redis] = {}
ROUTE_ENV = "ACCOMPAGNEMENT_ROUTE_BY_DEPARTEMENT"


def routed_by_departement() -> bool:
    return os.environ.get(ROUTE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def queue_of(departement: str | None) -> str:
    """The queue that carries a département's rows (the default one when not routed)."""
    if departement is None or not routed_by_departement():
        return QUEUE
    return f"{QUEUE}.{departement}"


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter, so retrying workers do not move in step."""
    return random.uniform(0, min(128, 2**retries)) + 1


def _items(events: Any, source: str, lines: Any, names: Any) -> list[tuple[str, str]]:
    """Name each event for reports (file:line where known); a payload that is not a list
    becomes one bad item, so a malformed message is recorded rather than lost."""
    if not isinstance(events, list):
        return [(source, as_text(events))]
    if isinstance(names, list) and len(names) == len(events):
        return [(str(name), as_text(event)) for name, event in zip(names, events, strict=True)]
    if isinstance(lines, list) and len(lines) == len(events):
        return [(f"{source}:{line}", as_text(event)) for line, event in zip(lines, events, strict=True)]
    return [(f"{source}#{index}", as_text(event)) for index, event in enumerate(events, start=1)]


def queue(rows: Routed, deferrals: int = 0, countdown: float | None = None) -> None:
    """Hand inbox rows to the workers, one task per département when routed, else one for all
    (applied at once, in this process, without a broker)."""
    if not routed_by_departement():
        ids = sorted(i for part in rows.values() for i in part)  # applied in id order anyway
        rows = {None: ids} if ids else {}
    for departement, ids in rows.items():
        apply_inbox.apply_async(
            args=[ids], kwargs={"deferrals": deferrals, "departement": departement},
            countdown=countdown, queue=queue_of(departement),
        )  # fmt: skip


def notify(rows: Routed) -> None:
    """Tell the workers that rows wait: a few rows join the next micro-batch, many go as their
    own batch. Without a broker they are applied at once, in this process.

    At most one drain task (per département, when routed) is queued per WINDOW (a Redis key set
    with NX and a WINDOW expiry): while the key lives, a drain task is queued with a countdown
    that has not run out, so it will take the rows committed before this call. A broker that is
    not Redis gets a task each."""
    url = str(app.conf.broker_url)
    many = sum(map(len, rows.values())) >= SMALL
    if app.conf.task_always_eager or many or not url.startswith(("redis://", "rediss://")):
        queue(rows)
        return
    client = _redis.get(url) or _redis.setdefault(url, redis.Redis.from_url(url))
    if not routed_by_departement():
        if client.set(_NOTIFIED, 1, nx=True, px=int(WINDOW * 1000)):
            drain_inbox.apply_async(countdown=WINDOW)
        return
    for departement in rows:
        if client.set(f"{_NOTIFIED}:{departement or '-'}", 1, nx=True, px=int(WINDOW * 1000)):
            drain_inbox.apply_async(
                kwargs={"departement": departement}, countdown=WINDOW, queue=queue_of(departement)
            )


def _drain(task: Task, ids: list[int], deferrals: int, departement: str | None) -> dict[str, Any]:
    rt = runtime()
    may_defer = deferrals < MAX_DEFERRALS and not task.request.is_eager

    def run() -> DrainReport:
        return drain(rt.uow(), rt.ctx, ids, defer_premature=may_defer)

    return _settle(task, run, len(ids), deferrals, departement)


def _settle(
    task: Task, run: Callable[[], DrainReport], count: int, deferrals: int, departement: str | None
) -> dict[str, Any]:
    """Run one drain; retry it on a transient failure, queue its premature events for later."""
    try:
        report = run()
    except Exception as exc:
        if is_transient(exc) and task.request.retries < MAX_RETRIES:
            cause = type(getattr(exc, "orig", None) or exc).__name__
            log.warning("task %s: transient %s, retrying", task.request.id, cause)
            raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from exc
        # The rows stay pending, their attempt counted: the sweep queues them again, and parks
        # those that fail every time. Nothing is acknowledged that was neither applied nor rejected.
        log.exception("task %s: %d inbox row(s) left pending for the sweep", task.request.id, count)
        return {"failed": type(exc).__name__, "pending": count}
    if report.ingest.deferred_items:
        later = [item.inbox_id for item in report.ingest.deferred_items if item.inbox_id is not None]
        queue({departement: later}, deferrals + 1, countdown=2 ** (deferrals + 1))
    return {**report.ingest.as_dict(), "parked": report.parked, "taken": report.taken}


@app.task(name="accompagnement.drain_inbox", bind=True, max_retries=MAX_RETRIES)
def drain_inbox(self: Task, departement: Any = ANY_DEPARTEMENT) -> dict[str, Any]:
    """Apply the events that wait in the inbox (of one département, when routed), by
    micro-batches of at most BATCH rows, until none is left: what arrived one by one goes
    through the batch path."""
    rt = runtime()
    key = departement if departement is None or isinstance(departement, str) else ANY_DEPARTEMENT
    route = None if key == ANY_DEPARTEMENT else key

    def run() -> DrainReport:
        return drain_waiting(rt.uow(), rt.ctx, BATCH, defer_premature=True, departement=key)

    taken = 0
    while True:
        done = _settle(self, run, BATCH, 0, route)
        taken += done.get("taken", 0)
        if done.get("taken", 0) < BATCH or "failed" in done:
            return {**done, "taken": taken}


@app.task(name="accompagnement.apply_inbox", bind=True, max_retries=MAX_RETRIES)
def apply_inbox(self: Task, ids: Any, deferrals: int = 0, departement: Any = None) -> dict[str, Any]:
    """Apply inbox rows by id, in id order, by chunks of 500 events, one transaction each."""
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        log.error(
            "task %s: apply_inbox takes a list of inbox ids, not %s", self.request.id, type(ids).__name__
        )
        return {"failed": "not a list of inbox ids"}
    route = departement if isinstance(departement, str) else None
    return _drain(self, ids, deferrals if isinstance(deferrals, int) else MAX_DEFERRALS, route)


def _receive_and_apply(task: Task, events: Any, source: Any, lines: Any, names: Any) -> dict[str, Any]:
    rt = runtime()
    source = str(source)[:200]
    items = _items(events, source, lines, names)
    try:
        receipt = receive(rt.uow(), rt.ctx, items, f"celery:{source}", task.request.id)
    except Exception as exc:
        if is_transient(exc):  # not stored yet: the message is all there is, so it waits for the database
            retries = min(task.request.retries, MAX_RETRIES - 1)
            raise task.retry(exc=exc, countdown=_backoff(retries), max_retries=None) from exc
        raise
    if len(receipt.pending) < SMALL:  # a few events: they join the micro-batches
        notify(receipt.routed())
        return {"accepted": len(receipt.pending)}
    if routed_by_departement():  # to the workers of each département, not this one
        queue(receipt.routed())
        return {"accepted": len(receipt.pending)}
    return _drain(task, receipt.pending, 0, None)


@app.task(name="accompagnement.apply_batch", bind=True, max_retries=MAX_RETRIES)
def receive_batch(
    self: Task, events: Any, source: Any = "celery", lines: Any = None, names: Any = None
) -> dict[str, Any]:
    """Store a batch in the inbox, then apply it in the order given.

    `lines` (the events' line numbers in `source`) or `names` (one label per event) make
    rejections point at their origin."""
    return _receive_and_apply(self, events, source, lines, names)


@app.task(name="accompagnement.apply_event", bind=True, max_retries=MAX_RETRIES)
def receive_event(self: Task, event: Any, source: Any = "celery") -> dict[str, Any]:
    """One event sent by name (`accompagnement.apply_event`, the name other systems use)."""
    return _receive_and_apply(self, [event], source, None, None)
