"""The tamper-evident transition log: append and verify (reading it: `export.py`).

Each row carries sha256(canonical row ‖ previous row's hash) for its case, starting from a
fixed genesis. Changing any field of a row, deleting a row or swapping two rows breaks the
chain at that row, which `verify_chains` names. The serialisation is canonical JSON (sorted
keys, no spaces, UTC ISO timestamps), so the hash does not depend on the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, TransitionLog
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.domain.attempt import Actor

GENESIS = "0" * 64
VERIFY_BATCH = 2_000  # rows fetched per round trip while verifying: ~1 MB of Python objects


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def canonical(row: TransitionLog | Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers: every field but the row's own id and hash."""
    get: Callable[[str], Any] = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
    body = {
        "case": get("case_reference"),
        "seq": get("seq"),
        "trigger": get("trigger"),
        "from": get("from_state"),
        "to": get("to_state"),
        "actor_id": get("actor_id"),
        "actor_role": get("actor_role"),
        "occurred_at": iso(get("occurred_at")),
        "recorded_at": iso(get("recorded_at")),
        "event_id": get("event_id"),
        "reason": get("reason"),
        "details": get("details"),
        "prev": get("prev_hash"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(row: TransitionLog | Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def append(
    uow: UnitOfWork,
    case: Case,
    *,
    trigger: str,
    from_state: str | None,
    actor: Actor,
    occurred_at: datetime,
    recorded_at: datetime,
    event_id: str | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Add the next row of the case's chain (same transaction as the change); return its hash.

    The chain's head is on the case row, locked by whoever changes the case: two writers of one
    case cannot both take the same seq."""
    seq, prev = (case.log_seq or 0) + 1, case.log_hash or GENESIS
    fields: dict[str, Any] = {
        "case_id": case.id,
        "case_reference": case.reference,
        "seq": seq,
        "trigger": trigger,
        "from_state": from_state,
        "to_state": str(case.state),
        "actor_id": actor.id,
        "actor_role": str(actor.role),
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "event_id": event_id,
        "reason": reason,
        "details": _jsonable(details or {}),
        "prev_hash": prev,
    }
    digest = row_hash(fields)
    fields["hash"] = digest
    uow.log.add(fields)
    case.log_seq, case.log_hash = seq, digest
    return digest


_SCALARS = (str, int, float, bool, type(None))


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    """Details exactly as they will read back from a JSON column, so the hash is stable.

    The effects' details are plain scalars, or dicts of them (the decision's data), `str`
    subclasses such as enums reading back as `str`: those are copied as they are, which spares
    a JSON round trip per transition on the batch path; anything else takes the round trip.
    """
    if all(type(v) in _SCALARS or _flat(v) for v in details.values()):
        return {k: dict(v) if isinstance(v, dict) else v for k, v in details.items()}
    return json.loads(json.dumps(details, default=str))  # type: ignore[no-any-return]


def _flat(value: Any) -> bool:
    return type(value) is dict and all(type(v) in _SCALARS for v in value.values())


@dataclass(frozen=True)
class Break:
    log_id: int
    case_reference: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"row {self.log_id} (case {self.case_reference}, seq {self.seq}): {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    rows: int
    cases: int
    breaks: list[Break]  # the first break of each broken chain, in log order
    # Cases with no log row at all: every case is opened by a logged transition, so its whole
    # chain was deleted (a chain checks the rows that are there, not those that are gone).
    unlogged: int = 0
    unlogged_examples: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.unlogged


def verify_chains(session: Session) -> VerifyReport:
    """Recompute every chain. Streams the log in case order, so memory stays flat."""
    rows = cases = 0
    breaks: list[Break] = []
    current_case: int | None = None
    expected_prev, expected_seq, broken = GENESIS, 1, False
    query = select(TransitionLog).order_by(TransitionLog.case_id, TransitionLog.seq)
    for row in session.scalars(query.execution_options(yield_per=VERIFY_BATCH)):
        rows += 1
        if row.case_id != current_case:
            current_case, expected_prev, expected_seq, broken = row.case_id, GENESIS, 1, False
            cases += 1
        if not broken:
            problem = _problem(row, expected_prev, expected_seq)
            if problem:
                breaks.append(Break(row.id, row.case_reference, row.seq, problem))
                broken = True
        expected_prev, expected_seq = row.hash, row.seq + 1
        session.expunge(row)
    logged = select(TransitionLog.id).where(TransitionLog.case_id == Case.id).exists()
    unlogged = session.scalar(select(func.count()).select_from(Case).where(~logged)) or 0
    examples = session.scalars(select(Case.reference).where(~logged).order_by(Case.id).limit(5)).all()
    return VerifyReport(rows, cases, breaks, unlogged, tuple(examples))


def first_break(rows: Iterable[TransitionLog]) -> Break | None:
    """The first bad row of one case's chain, given in seq order."""
    prev, seq = GENESIS, 1
    for row in rows:
        problem = _problem(row, prev, seq)
        if problem:
            return Break(row.id, row.case_reference, row.seq, problem)
        prev, seq = row.hash, row.seq + 1
    return None


def _problem(row: TransitionLog, expected_prev: str, expected_seq: int) -> str | None:
    if row.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {row.seq}: a row was deleted or moved"
    if row.prev_hash != expected_prev:
        return "prev_hash does not match the previous row's hash: a row before it was removed or replaced"
    if row_hash(row) != row.hash:
        return "content does not match its hash: the row was altered"
    return None
