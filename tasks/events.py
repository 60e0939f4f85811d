"""Tasks that apply events: thin wrappers over `workflow.application.inbox`.

The doors store events in the inbox, then wake the workers; no message names the rows it is
for. Every task that applies events is a drain (`accompagnement.drain_inbox`): it takes the
rows that may be applied now, BATCH at a time, in the order the database keeps (one person's
rows in the order they were accepted, a person one worker at a time: `InboxRows.take`): after a full
batch it takes again, after a smaller one it wakes the next micro-batch (`_drain_all`). The
command's file queues one wake-up per BATCH rows, so that several processes share it; a large
batch sent by name is drained by the task that stored it; events sent one by one (`POST
/api/events`, `accompagnement.apply_event`) `notify`, and one drain task at most per WINDOW
takes whatever has arrived by then. Other systems may also send
events by name; such a message is stored in the inbox first (keyed by its task id, so a
redelivery stores nothing twice), then applied:
    app.send_task("accompagnement.apply_batch", args=[[event, event, …], "their-system"])
    app.send_task("accompagnement.apply_event", args=[event, "their-system"])

With ACCOMPAGNEMENT_ROUTE_BY_DEPARTEMENT=1 the wake-ups travel on the département's queue
(`accompagnement.events.67`; rows with no known département, and every other task, on the
default `accompagnement.events`), and a drain task takes only its département's rows: workers
on several machines share the load by département (`celery -A tasks worker -Q
accompagnement.events.35,accompagnement.events.22`). Some worker must serve the default queue.

Delivery is at least once; an inbox row is applied only while pending, and the processed-event
table makes every replay a no-op, so a retry or a redelivery is always safe. A task that fails
on something unforeseen leaves its rows pending: the sweep wakes a worker for them again, and a
row taken MAX_ATTEMPTS times is parked as rejected with its payload, never lost. A premature
event waits in its row, not in a delayed message: the queue carries only work that can run now.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import redis
from celery import Task

from tasks.app import QUEUE, app
from tasks.runtime import runtime
from tasks.serialization import undecodable
from workflow.adapters import metrics
from workflow.adapters.transient import is_transient
from workflow.application.inbox import (
    ANY_DEPARTEMENT,
    BATCH,
    Routed,
    as_text,
    drain_waiting,
    receive,
)

log = logging.getLogger(__name__)

MAX_RETRIES = 8  # transient failures: backoff 1, 2, 4 … 128 s (+ jitter), about 4 minutes in all
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
    becomes one bad item, so a malformed message is recorded rather than lost, and so does a
    message the broker's decoder could not read (`serialization.undecodable`), its bytes kept."""
    if not isinstance(events, list):
        return [(source, _text(events))]
    if isinstance(names, list) and len(names) == len(events):
        return [(str(name), _text(event)) for name, event in zip(names, events, strict=True)]
    if isinstance(lines, list) and len(lines) == len(events):
        return [(f"{source}:{line}", _text(event)) for line, event in zip(lines, events, strict=True)]
    return [(f"{source}#{index}", _text(event)) for index, event in enumerate(events, start=1)]


def _text(value: Any) -> str:
    raw = undecodable(value)
    return as_text(value) if raw is None else raw


def queue(rows: Routed) -> None:
    """Wake the workers for these inbox rows: one drain task per BATCH rows, so that several
    processes share a large submission, on each département's queue when routed (applied at
    once, in this process, without a broker). A task carries no ids: whichever worker runs it
    takes the rows that may be applied then (`InboxRows.take`), so nothing depends on which
    message arrives first, or on how many processes run."""
    if not routed_by_departement():
        rows = {ANY_DEPARTEMENT: [i for part in rows.values() for i in part]}
    for departement, ids in rows.items():
        if not ids:
            continue
        wakeups = 1 if app.conf.task_always_eager else -(-len(ids) // BATCH)
        for _ in range(wakeups):
            drain_inbox.apply_async(kwargs={"departement": departement}, queue=queue_of(departement))


def notify(rows: Routed) -> None:
    """Tell the workers that rows wait: a few rows join the next micro-batch, many get their own
    wake-ups. Without a broker they are applied at once, in this process.

    At most one drain task (per département, when routed) is queued per WINDOW (a Redis key set
    with NX and a WINDOW expiry): while the key lives, a drain task is queued with a countdown
    that has not run out, so it will take the rows committed before this call. A broker that is
    not Redis gets a task each."""
    url = str(app.conf.broker_url)
    many = sum(map(len, rows.values())) >= SMALL
    if app.conf.task_always_eager or many or not url.startswith(("redis://", "rediss://")):
        queue(rows)
        return
    for departement in rows if routed_by_departement() else [ANY_DEPARTEMENT]:
        _wake_soon(url, departement)


def _wake_soon(url: str, departement: str | None) -> None:
    """Queue a drain task (of one département, when routed) due in WINDOW, unless one is due
    already (a Redis key set with NX, a WINDOW expiry; another broker gets a task each): the
    next micro-batch."""
    if url.startswith(("redis://", "rediss://")):
        client = _redis.get(url) or _redis.setdefault(url, redis.Redis.from_url(url))
        key = _NOTIFIED if departement == ANY_DEPARTEMENT else f"{_NOTIFIED}:{departement or '-'}"
        if not client.set(key, 1, nx=True, px=int(WINDOW * 1000)):
            return
    drain_inbox.apply_async(
        kwargs={"departement": departement}, countdown=WINDOW, queue=queue_of(departement)
    )


def _drain_all(task: Task, departement: str | None) -> dict[str, Any]:
    """Take and apply the rows that may be applied now (of one département, when routed), by
    BATCH; retry on a transient failure. A premature event is deferred in its row (the
    scheduler's sweep comes back to it), except in-process, where none would.

    After a full batch it takes again at once. After a smaller one, it wakes the workers for the
    next micro-batch (in WINDOW) instead of taking the few rows that arrived meanwhile: events
    sent one by one are applied by tens, not one by one. That follow-up is also what makes "a
    worker never waits for another" safe: a worker that found a person held by this one left
    that person's later rows, and the follow-up, this one's rows settled, takes them next. It
    stops when a taking finds nothing."""
    rt = runtime()
    defer = not task.request.is_eager
    totals: dict[str, Any] = {"taken": 0}
    while True:
        try:
            report = drain_waiting(rt.uow(), rt.ctx, BATCH, defer, departement)
        except Exception as exc:
            if is_transient(exc) and task.request.retries < MAX_RETRIES:
                cause = type(getattr(exc, "orig", None) or exc).__name__
                log.warning("tâche %s : %s passager, nouvel essai", task.request.id, cause)
                raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from exc
            # The rows stay pending, their taking counted: the sweep wakes a worker for them
            # once their claim runs out, and parks those that fail every time. Nothing is
            # acknowledged that was neither applied nor rejected.
            log.exception(
                "tâche %s : lignes de la boîte d'entrée laissées en attente pour le balayage", task.request.id
            )
            return {**totals, "failed": type(exc).__name__}
        metrics.count_settled(report.ingest.settled, report.ingest.delays)
        for name, value in report.ingest.as_dict().items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
        totals["parked"] = totals.get("parked", 0) + report.parked
        totals["taken"] += report.taken
        if report.taken:
            done = report.ingest
            log.info("lot de %d : %d appliqué(s), %d doublon(s), %d rejeté(s), %d différé(s), %d mis de côté",
                     report.taken, done.applied, done.duplicates, done.rejected, done.deferred,
                     report.parked)  # fmt: skip
        if report.taken == BATCH or (report.taken and task.request.is_eager):
            continue  # more may wait now (in-process: no later wake-up, so until none is left)
        if report.taken:
            _wake_soon(str(app.conf.broker_url), departement)
        return totals


def _route(departement: Any) -> str | None:
    return departement if departement is None or isinstance(departement, str) else ANY_DEPARTEMENT


@app.task(name="accompagnement.drain_inbox", bind=True, max_retries=MAX_RETRIES)
def drain_inbox(self: Task, departement: Any = ANY_DEPARTEMENT) -> dict[str, Any]:
    """Apply the events that may be applied now (of one département, when routed): every event,
    sent alone or in a batch, goes through here."""
    return _drain_all(self, _route(departement))


@app.task(name="accompagnement.apply_inbox", bind=True, max_retries=MAX_RETRIES)
def apply_inbox(self: Task, ids: Any = None, deferrals: Any = 0, departement: Any = None) -> dict[str, Any]:
    """A wake-up queued by a version that named the rows it carried (still in a broker at an
    upgrade): the ids are not needed, the worker drains its département like any drain task."""
    route = departement if isinstance(departement, str) else None
    return _drain_all(self, route if routed_by_departement() else ANY_DEPARTEMENT)


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
    metrics.count_received("celery", receipt.stored)
    if len(receipt.pending) < SMALL or routed_by_departement():
        notify(receipt.routed())  # a few join the next micro-batch; routed: their workers' queues
        return {"accepted": len(receipt.pending)}
    return {"accepted": len(receipt.pending), **_drain_all(task, ANY_DEPARTEMENT)}  # no broker hop


@app.task(name="accompagnement.apply_batch", bind=True, max_retries=MAX_RETRIES)
def apply_batch(
    self: Task, events: Any, source: Any = "celery", lines: Any = None, names: Any = None
) -> dict[str, Any]:
    """Store a batch in the inbox, then wake the workers: its events are applied in the order
    given, each after the events of its person accepted before.

    `lines` (the events' line numbers in `source`) or `names` (one label per event) make
    rejections point at their origin."""
    return _receive_and_apply(self, events, source, lines, names)


@app.task(name="accompagnement.apply_event", bind=True, max_retries=MAX_RETRIES)
def apply_event(self: Task, event: Any, source: Any = "celery") -> dict[str, Any]:
    """One event sent by name (`accompagnement.apply_event`, the name other systems use)."""
    return _receive_and_apply(self, [event], source, None, None)
