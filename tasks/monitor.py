"""What the broker holds: queue depth, messages in progress or orphaned, and whether Redis keeps
anything on disk.

Kombu's Redis transport keeps a queue as a Redis list (LPUSH in, BRPOP out, so the oldest
message is at the right end), and the messages a worker took but has not acknowledged in the
`unacked` hash (with their delivery time in the `unacked_index` sorted set). A message there
whose task no live worker is running is orphaned: its worker died, and Redis hands it out again
only after the visibility timeout.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from tasks.app import QUEUE, VISIBILITY_TIMEOUT, app


@dataclass(frozen=True)
class QueueState:
    waiting: int  # messages in the queue
    in_progress: int  # delivered to a live worker, not yet acknowledged
    orphaned: int  # delivered to a worker that is gone: redelivered after the visibility timeout
    orphan_redelivery_in: float | None  # seconds until the first orphan is handed out again
    unanswered: bool = False  # no worker answered the inspection within INSPECT_TIMEOUT


INSPECT_TIMEOUT = 3.0  # seconds a busy worker's main process has to answer
RECENT = 10.0  # seconds: a message delivered since may not show in its worker's answer yet


def queue_state() -> QueueState | None:
    """None when no broker is configured (the embedded default runs tasks in-process)."""
    if app.conf.task_always_eager:
        return None
    client = redis.Redis.from_url(app.conf.broker_url)
    waiting = sum(int(client.llen(name)) for name in _event_queues(client))
    unacked: dict[bytes, bytes] = client.hgetall("unacked")  # type: ignore[assignment]
    running = _running_task_ids() if unacked else set()
    # A message delivered a moment ago may not be in its worker's answer yet: not an orphan.
    settled = time.time() - RECENT
    delivered = {tag: client.zscore("unacked_index", tag) for tag in unacked}
    orphans = [
        tag for tag, message in unacked.items()
        if (running is None or _task_id(message) not in running) and (delivered[tag] or 0) < settled
    ]  # fmt: skip
    redelivery = None
    if orphans:
        first = min((d for tag in orphans if (d := delivered[tag]) is not None), default=None)
        redelivery = None if first is None else max(0.0, first + VISIBILITY_TIMEOUT - time.time())
    return QueueState(waiting, len(unacked) - len(orphans), len(orphans), redelivery, running is None)


def _event_queues(client: redis.Redis) -> list[str]:
    """The default queue and the départements' (`accompagnement.events.67`…) that exist now."""
    names = {QUEUE} | {
        key.decode() if isinstance(key, bytes) else str(key)
        for key in client.scan_iter(match=f"{QUEUE}.*", count=1000)
    }
    return sorted(name for name in names if "\x06" not in name and not name.endswith(".pidbox"))


def _running_task_ids() -> set[str | None] | None:
    """Ids of the tasks live workers hold (running, prefetched, or waiting for their countdown);
    None when no worker answered within INSPECT_TIMEOUT."""
    inspect = app.control.inspect(timeout=INSPECT_TIMEOUT)
    answers = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    if all(answer is None for answer in answers):
        return None
    ids: set[str | None] = set()
    for answer in answers:
        for tasks in (answer or {}).values():
            for task in tasks:
                ids.add(task.get("id") or task.get("request", {}).get("id"))
    return ids


def _task_id(message: bytes) -> str | None:
    try:
        envelope = json.loads(message)[0]
        return str(envelope["headers"]["id"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def redis_persistence() -> str | None:
    """How the broker's Redis keeps its data on disk, in a sentence with what is at risk; None
    without a broker."""
    if app.conf.task_always_eager:
        return None
    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        settings: dict[Any, Any] = {**client.config_get("appendonly"), **client.config_get("save")}
    except redis.ResponseError:
        return "inconnu (CONFIG n'est pas permis sur ce Redis) : voir le guide des opérateurs"
    aof = settings.get("appendonly") == "yes"
    rdb = bool(str(settings.get("save", "")).strip())
    if aof:
        return "AOF (journal en ajout seul) : les messages en file survivent à un redémarrage"
    if rdb:
        return (
            "instantanés RDB seulement : un redémarrage perd les messages depuis le dernier ; les "
            "événements sont sûrs dans la boîte d'entrée (remis en file en une minute), les emails "
            "par le scan des rappels"
        )
    return (
        "AUCUNE : un redémarrage perd tout message en file ; les événements sont sûrs dans la boîte "
        "d'entrée (remis en file en une minute) et les emails dans l'outbox, mais activez AOF "
        "(appendonly yes) en production"
    )
