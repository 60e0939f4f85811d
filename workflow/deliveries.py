"""Counting how often a queued message was delivered, to stop a message that kills its worker.

With late acknowledgement, a message whose processing kills the worker (out of memory, a
segfault in a driver) is delivered again after the visibility timeout, forever. Each delivery
of a task attempt is counted here, in its own committed transaction so the count survives the
crash; past MAX_DELIVERIES the message is parked: its events go to the rejected-events table,
where `accompagnement events rejected` shows them and `events retry` re-applies them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import TaskDelivery
from workflow.context import Context
from workflow.ingest import Raw, record_rejection
from workflow.unit_of_work import UnitOfWork

MAX_DELIVERIES = 3


def count_delivery(uow: UnitOfWork, ctx: Context, key: str) -> int:
    """Add one delivery of `key` and return how many there have been."""
    with uow:
        now = ctx.clock.now()
        count = _bump(uow.session, key, now)
        if count is None:
            try:
                with uow.session.begin_nested():
                    uow.session.add(TaskDelivery(key=key, deliveries=1, last_at=now))
                count = 1
            except IntegrityError:  # counted meanwhile by another delivery of the same message
                count = _bump(uow.session, key, now)
        uow.commit()
        return count or 1


def _bump(session: Session, key: str, now: datetime) -> int | None:
    return session.execute(
        update(TaskDelivery)
        .where(TaskDelivery.key == key)
        .values(deliveries=TaskDelivery.deliveries + 1, last_at=now)
        .returning(TaskDelivery.deliveries)
    ).scalar()


def forget_delivery(uow: UnitOfWork, key: str) -> None:
    with uow:
        uow.session.execute(delete(TaskDelivery).where(TaskDelivery.key == key))
        uow.commit()


def park(uow: UnitOfWork, ctx: Context, items: Iterable[tuple[str, Raw]], reason: str) -> None:
    """Record every event of a poisonous message as rejected, with the reason."""
    with uow:
        for where, raw in items:
            text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
            data = raw if isinstance(raw, dict) else None
            record_rejection(uow.session, ctx, source=where, raw=text, reason=reason, data=data)
        uow.commit()
