"""Daily seals of the transition log: the heads of the day's chains, signed with the operator's key.

The hash chains (`workflow.audit`) detect an edited, removed or re-ordered row, but not someone
who rewrites a whole chain and recomputes every hash. So each day (UTC, by `recorded_at`) once
over, the head of every chain that grew that day — (case reference, seq, hash) of its last row of
the day — is stored in `audit_seal` with HMAC-SHA256(key, day | chains | rows | sha256 of the
heads). A rewritten or deleted chain no longer ends on its sealed head; a forged seal needs the
key, which lives outside the database (ACCOMPAGNEMENT_AUDIT_KEY, set by the operator).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditSeal, TransitionLog
from workflow.context import Context
from workflow.errors import ConfigurationError
from workflow.unit_of_work import UnitOfWork

KEY_ENV = "ACCOMPAGNEMENT_AUDIT_KEY"
MIN_KEY_BYTES = 16


def operator_key() -> bytes:
    """The sealing key, from the environment; refused if missing or short."""
    key = os.environ.get(KEY_ENV, "").encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"{KEY_ENV} must hold the operator's sealing key, at least {MIN_KEY_BYTES} characters "
            "(keep it outside the database, e.g. in the service's secret store)"
        )
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def heads_of(session: Session, day: date) -> tuple[dict[str, list[Any]], int]:
    """The last (seq, hash) of each chain that grew on `day`, and the number of rows of the day."""
    start, end = _bounds(day)
    query = (
        select(TransitionLog.case_reference, TransitionLog.seq, TransitionLog.hash)
        .where(TransitionLog.recorded_at >= start, TransitionLog.recorded_at < end)
        .order_by(TransitionLog.case_id, TransitionLog.seq)
    )
    heads: dict[str, list[Any]] = {}
    rows = 0
    for reference, seq, digest in session.execute(query.execution_options(yield_per=5_000)):
        heads[reference] = [seq, digest]
        rows += 1
    return heads, rows


def _digest(heads: dict[str, list[Any]]) -> str:
    return hashlib.sha256(json.dumps(heads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _mac(key: bytes, day: date, chains: int, rows: int, heads_sha256: str) -> str:
    message = f"{day.isoformat()}|{chains}|{rows}|{heads_sha256}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal(uow: UnitOfWork, ctx: Context, key: bytes, through: date | None = None) -> list[AuditSeal]:
    """Seal every day with log rows, from the day after the last seal through `through` (default
    yesterday, UTC: a day is sealed once over). Days already sealed are left as they are."""
    last_day = through or ctx.clock.now().astimezone(UTC).date() - timedelta(days=1)
    sealed = []
    with uow:
        session = uow.session
        last = session.scalar(select(func.max(AuditSeal.day)))
        first_row = session.scalar(select(func.min(TransitionLog.recorded_at)))
        if first_row is None:
            return []
        day = max(last + timedelta(days=1) if last else date.min, first_row.astimezone(UTC).date())
        while day <= last_day:
            heads, rows = heads_of(session, day)
            if rows:
                digest = _digest(heads)
                mac = _mac(key, day, len(heads), rows, digest)
                row = AuditSeal(
                    day=day, chains=len(heads), rows=rows, heads=heads, heads_sha256=digest, hmac=mac,
                    key_id=key_id(key), sealed_at=ctx.clock.now(),
                )  # fmt: skip
                session.add(row)
                sealed.append(row)
            day += timedelta(days=1)
        uow.commit()
        for row in sealed:
            session.expunge(row)
    return sealed


@dataclass(frozen=True)
class SealProblem:
    day: date
    problem: str

    def __str__(self) -> str:
        return f"seal of {self.day.isoformat()}: {self.problem}"


def verify(session: Session, key: bytes) -> tuple[int, list[SealProblem]]:
    """Check every seal against its signature and the log as it is now; (seals, problems)."""
    problems: list[SealProblem] = []
    seals = 0
    for row in session.scalars(select(AuditSeal).order_by(AuditSeal.day)):
        seals += 1
        if row.key_id != key_id(key):
            problems.append(SealProblem(row.day, f"signed with key {row.key_id}, not the key given"))
            continue
        expected = _mac(key, row.day, row.chains, row.rows, row.heads_sha256)
        if not hmac.compare_digest(expected, row.hmac) or _digest(row.heads) != row.heads_sha256:
            problems.append(SealProblem(row.day, "its signature does not match: the seal itself was altered"))
            continue
        heads, rows = heads_of(session, row.day)
        for reference in sorted(set(row.heads) | set(heads)):
            sealed, now = row.heads.get(reference), heads.get(reference)
            if sealed == now:
                continue
            if now is None:
                assert sealed is not None
                what = f"case {reference}: its rows of that day are gone (sealed head: seq {sealed[0]})"
            elif sealed is None:
                what = f"case {reference}: seq {now[0]} was not in the log when the day was sealed"
            else:
                what = f"case {reference}: seq {sealed[0]} lost its sealed hash (the chain was rewritten)"
            problems.append(SealProblem(row.day, what))
        if rows != row.rows and not any(p.day == row.day for p in problems):
            problems.append(SealProblem(row.day, f"{rows} rows now, {row.rows} sealed"))
    return seals, problems
