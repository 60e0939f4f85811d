"""The durable inbox's rows and the register of rejected events, reached through the unit of
work (`uow.inbox`, `uow.rejections`).

The statements here carry the ordering guarantee of `workflow.application.inbox`: a door stores
its rows in one statement that skips what is already there, a worker claims a person's rows from
the first one still to try (`take`), and a chunk settles the rows it applied in the transaction
that applied them. The application decides what each row says; this module only writes it, with
the same SQL on SQLite and PostgreSQL (PostgreSQL's row locks, SQLite's one writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from models import Case, InboxEvent, Person, ProcessedEvent, RejectedEvent
from workflow.adapters.repositories import Applied
from workflow.domain.lifecycle import OPEN_STATES
from workflow.domain.vocabulary import InboxStatus

_TABLE: Table = InboxEvent.__table__  # type: ignore[assignment]
# What a door answers from: a row's place in its submission, its id, and how it stands.
_KEPT = (
    _TABLE.c.position,
    _TABLE.c.id,
    _TABLE.c.event_id,
    _TABLE.c.status,
    _TABLE.c.reason,
    _TABLE.c.departement,
)
# What a worker needs of a row it took.
_TAKEN = (
    InboxEvent.id,
    InboxEvent.attempts,
    InboxEvent.deferrals,
    InboxEvent.source,
    InboxEvent.payload,
    InboxEvent.sender,
    InboxEvent.accepted_at,
)
_SETTLE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == InboxStatus.PENDING.value)
    .values(status=bindparam("b_status"), reason=bindparam("b_reason"), settled_at=bindparam("b_at"))
)
_DEFER = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(attempts=0, claimed_at=None, deferrals=bindparam("b_deferrals"), not_before=bindparam("b_at"))
)


def _insert_into(session: Session, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def stranded(now: datetime, lease: timedelta, stale: timedelta) -> ColumnElement[bool]:
    """Pending rows that could be applied now, that no worker holds (no claim younger than
    `lease`), and that no wake-up was sent for since `stale` (their message was lost), or since
    they became due after a deferral. A due deferred row woken once is woken again after `stale`
    like any other: that wake-up may have been lost too."""
    return and_(
        InboxEvent.status == InboxStatus.PENDING,
        or_(InboxEvent.claimed_at.is_(None), InboxEvent.claimed_at < now - lease),
        or_(
            and_(InboxEvent.not_before.is_(None), InboxEvent.queued_at < now - stale),
            and_(
                InboxEvent.not_before <= now,
                or_(InboxEvent.queued_at < InboxEvent.not_before, InboxEvent.queued_at < now - stale),
            ),
        ),
    )


class InboxRows:
    def __init__(self, session: Session) -> None:
        self.session = session

    # The door.

    def insert(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Insert the rows that conflict with none (a redelivered submission's, a second pending
        copy of an event: unique indexes); return those stored (position, id, event id, status,
        reason, département)."""
        if not rows:
            return []
        statement = _insert_into(self.session, _TABLE).on_conflict_do_nothing().returning(*_KEPT)
        return list(self.session.execute(statement, rows).all())

    def positions(self, submission: str) -> set[int]:
        """The positions of a submission's rows already stored."""
        return set(self.session.scalars(select(_TABLE.c.position).where(_TABLE.c.submission == submission)))

    def kept(self, submission: str) -> list[Any]:
        """A submission's rows as they stand now (what `insert` returns)."""
        return list(self.session.execute(select(*_KEPT).where(_TABLE.c.submission == submission)))

    def applied(self, event_ids: Iterable[str]) -> dict[str, Applied]:
        """What was applied under these event ids: plain rows, not ORM objects (a door's hot path)."""
        query = select(
            ProcessedEvent.event_id, ProcessedEvent.type, ProcessedEvent.payload_sha256,
            ProcessedEvent.applied_at, ProcessedEvent.case_reference,
        ).where(ProcessedEvent.event_id.in_(set(event_ids)))  # fmt: skip
        return {row.event_id: Applied(*row[1:]) for row in self.session.execute(query)}

    def waiting(self, event_ids: set[str]) -> list[Any]:
        """(event id, payload, accepted at) of the pending rows of these events (one pending row
        per event id at most: a unique index)."""
        query = select(InboxEvent.event_id, InboxEvent.payload, InboxEvent.accepted_at).where(
            InboxEvent.status == InboxStatus.PENDING, InboxEvent.event_id.in_(event_ids)
        )
        return list(self.session.execute(query))

    def case_lines(self, references: set[str], case_key: str) -> list[Any]:
        """(reference, convention, order key, rank) of these cases: from the case rows (rank 0)
        first, then from their orientations waiting in the inbox (rank 1; rows keyed
        `case_key`<ref> left out).

        One statement, so one snapshot (PostgreSQL takes one per statement): a worker applying an
        orientation creates the case and settles its inbox row in one commit, which two
        statements could fall between, seeing neither."""
        known = (
            select(Case.reference, Case.convention_code, Person.ft_identifier, literal(0).label("rank"))
            .join(Person, Person.id == Case.person_id)
            .where(Case.reference.in_(references))
        )
        waiting = select(
            InboxEvent.case_reference, InboxEvent.departement, InboxEvent.person_key, literal(1)
        ).where(
            InboxEvent.case_reference.in_(references),
            InboxEvent.status == InboxStatus.PENDING,
            InboxEvent.person_key.is_not(None),
            InboxEvent.person_key.not_like(f"{case_key}%"),
        )
        found = union_all(known, waiting).subquery()
        return list(self.session.execute(select(found).order_by(found.c.rank)))

    def person_routes(self, people: set[str]) -> list[Any]:
        """(identifier, convention, rank) of these people: their open case's (rank 0), then the
        départements of their rows waiting in the inbox (rank 1). One statement, one snapshot."""
        open_case = (
            select(Person.ft_identifier, Case.convention_code, literal(0).label("rank"))
            .join(Case, Case.person_id == Person.id)
            .where(Person.ft_identifier.in_(people), Case.state.in_(OPEN_STATES))
        )
        waiting = select(InboxEvent.person_key, InboxEvent.departement, literal(1)).where(
            InboxEvent.person_key.in_(people),
            InboxEvent.status == InboxStatus.PENDING,
            InboxEvent.departement.is_not(None),
        )
        found = union_all(open_case, waiting).subquery()
        return list(self.session.execute(select(found).order_by(found.c.rank)))

    # The workers.

    def take(
        self, now: datetime, limit: int, lease: timedelta, departement: str | None, every_departement: bool
    ) -> list[Any]:
        """Claim the oldest rows that may be applied now, at most `limit`, and return them in id
        order (id, attempts, deferrals, source, payload, sender, accepted_at).

        A row may be applied once every row of its person accepted before it has been tried:
        settled, or deferred to a later time. So a person's rows are taken from the first one
        still to try, by one worker at a time: a person another worker holds (a claim younger
        than `lease`, or rows it is choosing right now) is left to it, never waited for, and the
        rows behind a deferred one go on (they may carry the predecessor it waits for). The
        claim is committed by the caller; a worker that dies holding it frees the person when
        the lease runs out. Unless `every_departement`, only the rows of `departement` (None:
        the rows with none)."""
        free = or_(InboxEvent.claimed_at.is_(None), InboxEvent.claimed_at < now - lease)
        due = or_(InboxEvent.not_before.is_(None), InboxEvent.not_before <= now)
        conditions = [InboxEvent.status == InboxStatus.PENDING, due, free]
        if not every_departement:
            conditions.append(
                InboxEvent.departement.is_(None)
                if departement is None
                else InboxEvent.departement == departement
            )
        # The oldest candidates, locked: rows another worker is choosing right now are skipped
        # here (PostgreSQL; SQLite has one writer), and then, pending and not ours, they hold back
        # their person's later rows below. MATERIALIZED: the LIMIT with SKIP LOCKED runs once.
        chosen = (
            select(InboxEvent.id, InboxEvent.person_key)
            .where(*conditions)
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("chosen")
            .prefix_with("MATERIALIZED")
        )
        # A candidate behind a row of its person that is not among them (held by another
        # worker's claim, or being chosen by one right now) waits: a person's rows are taken
        # from the first.
        other = aliased(InboxEvent)
        behind = (
            select(other.id)
            .where(
                other.person_key == chosen.c.person_key,
                other.status == InboxStatus.PENDING,
                other.id < chosen.c.id,
                or_(other.not_before.is_(None), other.not_before <= now),
                other.id.not_in(select(chosen.c.id)),
            )
            .exists()
        )
        takeable = select(chosen.c.id).where(~behind)
        claim = (
            update(InboxEvent)
            .where(InboxEvent.id.in_(takeable))
            .values(attempts=InboxEvent.attempts + 1, claimed_at=now, not_before=None)
            .returning(*_TAKEN)
        )
        return sorted(self.session.execute(claim))

    def release(self, ids: Sequence[int]) -> None:
        """Give back the claim on rows still pending; their takings stay counted."""
        self.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_(list(ids)), InboxEvent.status == InboxStatus.PENDING)
            .values(claimed_at=None)
        )

    def lock_pending(self, ids: Sequence[int]) -> set[int]:
        """Those of `ids` still pending, locked for the transaction. It waits for a worker
        holding them, never skips them (a worker that just died may hold them a moment longer,
        and skipped rows would wait for the sweep). SQLite: the write lock."""
        query = select(InboxEvent.id).where(InboxEvent.id.in_(ids), InboxEvent.status == InboxStatus.PENDING)
        return set(self.session.scalars(query.order_by(InboxEvent.id).with_for_update()))

    def settle(self, done: list[dict[str, Any]], deferred: list[dict[str, Any]]) -> None:
        """Write each row's verdict (`b_id`, `b_status`, `b_reason`, `b_at`: only a row still
        pending), and defer the premature ones (`b_id`, `b_deferrals`, `b_at` their not-before
        time), their attempts forgiven and their claim given back."""
        if done:
            self.session.execute(_SETTLE, done)
        if deferred:
            self.session.execute(_DEFER, deferred)

    def park(self, ids: Sequence[int], reason: str, now: datetime) -> list[InboxEvent]:
        """Settle those of `ids` still pending as rejected with `reason`; return them."""
        rows = self.session.scalars(
            select(InboxEvent)
            .where(InboxEvent.id.in_(list(ids)), InboxEvent.status == InboxStatus.PENDING)
            .with_for_update()
        ).all()
        for row in rows:
            row.status, row.reason, row.settled_at = InboxStatus.REJECTED, reason, now
        return list(rows)

    def requeue(self, now: datetime, limit: int, lease: timedelta, stale: timedelta) -> list[Any]:
        """(id, département) of the stranded rows (`stranded`), oldest first, marked queued now.
        Rows a worker holds are skipped: the sweep never waits for a worker, never deadlocks
        with one."""
        rows = self.session.execute(
            select(InboxEvent.id, InboxEvent.departement)
            .where(stranded(now, lease, stale))
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            ids = [row.id for row in rows]
            self.session.execute(update(InboxEvent).where(InboxEvent.id.in_(ids)).values(queued_at=now))
        return list(rows)


class RejectedEvents:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, values: dict[str, Any]) -> None:
        """Write a rejection at once (not at the next flush, where a fault would hit another
        event). The same unresolved rejection (`fingerprint`) counts one more occurrence on its
        row, which takes the latest source, reason, text, time, type and date."""
        table: Table = RejectedEvent.__table__  # type: ignore[assignment]
        insert = _insert_into(self.session, table)
        again = {
            name: insert.excluded[name]
            for name in ("source", "reason", "raw", "last_rejected_at", "type", "occurred_at")
        }
        self.session.execute(
            insert.values(values).on_conflict_do_update(
                index_elements=["fingerprint"],
                index_where=table.c.resolved_at.is_(None),
                set_={**again, "occurrences": table.c.occurrences + 1},
            )
        )

    def get(self, rejected_id: int) -> RejectedEvent | None:
        return self.session.get(RejectedEvent, rejected_id)
