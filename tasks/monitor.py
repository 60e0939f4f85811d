"""What the broker holds: queue depth and the age of the oldest event still waiting.

Kombu's Redis transport keeps a queue as a Redis list (LPUSH in, BRPOP out, so the oldest
message is at the right end) and messages taken but not yet acknowledged in the `unacked` hash.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

import redis

from tasks.app import QUEUE, app


@dataclass(frozen=True)
class QueueState:
    waiting: int  # messages in the queue
    in_progress: int  # delivered to a worker, not yet acknowledged
    oldest_event_at: datetime | None  # occurred_at of the oldest event in the oldest message


def queue_state() -> QueueState | None:
    """None when no broker is configured (the embedded default runs tasks in-process)."""
    if app.conf.task_always_eager:
        return None
    client = redis.Redis.from_url(app.conf.broker_url)
    waiting = int(client.llen(QUEUE))
    in_progress = int(client.hlen("unacked"))
    oldest = client.lindex(QUEUE, -1)
    return QueueState(waiting, in_progress, _oldest_event(oldest) if oldest else None)


def _oldest_event(message: bytes | str) -> datetime | None:
    try:
        envelope = json.loads(message)
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        events = kwargs.get("events", args[0] if args else [])
        events = events if isinstance(events, list) else [events]
        times = [
            datetime.fromisoformat(e["occurred_at"])
            for e in events
            if isinstance(e, dict) and "occurred_at" in e
        ]
        return min(times) if times else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None  # not one of our messages, or not readable: depth is still right
