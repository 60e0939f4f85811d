"""Daily seals of the transition log: the heads of the day's chains, signed with the operator's key.

The hash chains (`audit.chain`) detect an edited, removed or re-ordered row, but not someone
who rewrites a whole chain and recomputes every hash. So each day (UTC, by `recorded_at`) once
over, the head of every chain that grew that day — (case reference, seq, hash) of its last row of
the day — is stored in `audit_seal` with HMAC-SHA256(key, day | chains | rows | sha256 of the
heads | the previous seal's HMAC). A rewritten or deleted chain no longer ends on its sealed
head; a forged seal needs the key, which lives outside the database (ACCOMPAGNEMENT_AUDIT_KEY,
set by the operator).

A seal also covers the day's other audit facts, which no hash chain holds: the revue decisions
applied and the access denials recorded that day (`FACTS`: their count and the sha256 of their
rows), so that a decision rewritten or a denial deleted afterwards is named by `verify`. Seals made
before they covered those facts hold no FACTS entry and are verified as they were signed.

The seals are themselves a chain, one per day, empty days included, each signing the one before:
deleting a seal breaks the next one's link, and a day missing between the first seal and the
last complete day is named. Only the latest seals could then be deleted unseen, with the rows
they covered: `audit seal` prints the head (day and HMAC) for the operator to keep elsewhere,
and `audit verify --expect HEAD` checks that this head is still in place.
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

from models import AccessDenial, AuditSeal, RevueDecision, TransitionLog
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.errors import ConfigurationError

KEY_ENV = "ACCOMPAGNEMENT_AUDIT_KEY"
MIN_KEY_BYTES = 16


def operator_key() -> bytes:
    """The sealing key, from the environment; refused if missing or short."""
    key = os.environ.get(KEY_ENV, "").encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"{KEY_ENV} doit contenir la clé de scellement de l'opérateur, {MIN_KEY_BYTES} caractères au "
            "moins (gardée hors de la base, par exemple dans le coffre à secrets du service)"
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


FACTS = "#faits"  # a seal's entry for the day's revue decisions and access denials (no case ref has #)


def facts_of(session: Session, day: date) -> list[Any]:
    """[revue decisions, their sha256, access denials, their sha256] of `day` (UTC)."""
    start, end = _bounds(day)
    d = RevueDecision
    decisions = session.execute(
        select(d.id, d.revue_id, d.case_reference, d.rubrique, d.decision, d.actor_id, d.log_hash,
               d.applied_at)
        .where(d.applied_at >= start, d.applied_at < end)
        .order_by(d.id)
    ).all()  # fmt: skip
    denials = session.execute(
        select(AccessDenial.id, AccessDenial.occurred_at, AccessDenial.actor_id, AccessDenial.actor_role,
               AccessDenial.action, AccessDenial.case_reference, AccessDenial.reason)
        .where(AccessDenial.occurred_at >= start, AccessDenial.occurred_at < end)
        .order_by(AccessDenial.id)
    ).all()  # fmt: skip
    return [len(decisions), _rows_digest(decisions), len(denials), _rows_digest(denials)]


def _rows_digest(rows: Any) -> str:
    text = json.dumps([[_plain(v) for v in row] for row in rows], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _digest(heads: dict[str, list[Any]]) -> str:
    return hashlib.sha256(json.dumps(heads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _mac(key: bytes, day: date, chains: int, rows: int, heads_sha256: str, prev: str | None) -> str:
    """The seal's signature; `prev` is the previous seal's (None: a seal made before seals were
    chained, verified as it was signed)."""
    message = f"{day.isoformat()}|{chains}|{rows}|{heads_sha256}"
    if prev is not None:
        message += f"|{prev}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def head(row: AuditSeal) -> str:
    """What the operator keeps elsewhere: the latest seal's day and signature."""
    return f"{row.day.isoformat()}:{row.hmac}"


def seal(uow: UnitOfWork, ctx: Context, key: bytes, through: date | None = None) -> list[AuditSeal]:
    """Seal every day, from the day after the last seal (or the log's first day) through
    `through` (default yesterday, UTC: a day is sealed once over), days without rows included,
    each seal signing the previous one. Days already sealed are left as they are."""
    today = ctx.clock.now().astimezone(UTC).date()
    last_day = through or today - timedelta(days=1)
    if last_day >= today:
        # A day still running would grow after its seal: a false alarm at the next verify.
        raise ConfigurationError(
            f"impossible de sceller le {labels.day(last_day)} : seul un jour terminé (UTC) se scelle, "
            f"le dernier est le {labels.day(today - timedelta(days=1))}"
        )
    sealed = []
    with uow:
        last = uow.audit_seals.last()
        first_row = uow.audit_seals.first_log_instant()
        if first_row is None and last is None:
            return []
        day = last.day + timedelta(days=1) if last else first_row.astimezone(UTC).date()  # type: ignore[union-attr]
        prev = last.hmac if last else ""
        while day <= last_day:
            heads, rows = heads_of(uow.session, day)
            chains = len(heads)
            heads[FACTS] = facts_of(uow.session, day)
            digest = _digest(heads)
            mac = _mac(key, day, chains, rows, digest, prev)
            row = AuditSeal(
                day=day, chains=chains, rows=rows, heads=heads, heads_sha256=digest, hmac=mac,
                prev_hmac=prev, key_id=key_id(key), sealed_at=ctx.clock.now(),
            )  # fmt: skip
            uow.audit_seals.add(row)
            sealed.append(row)
            prev = mac
            day += timedelta(days=1)
        uow.commit()
        uow.audit_seals.detach(sealed)
    return sealed


@dataclass(frozen=True)
class SealProblem:
    day: date
    problem: str

    def __str__(self) -> str:
        return f"seal of {self.day.isoformat()}: {self.problem}"


def verify(
    session: Session, key: bytes, today: date, expect: str | None = None
) -> tuple[int, list[SealProblem]]:
    """Check every seal against its signature, its link to the previous seal and the log as it
    is now; name the complete days left without a seal; with `expect` (a head kept elsewhere),
    check that this seal is still in place. Returns (seals, problems)."""
    problems: list[SealProblem] = []
    seals = 0
    previous: AuditSeal | None = None
    sealed_days: set[date] = set()
    for row in session.scalars(select(AuditSeal).order_by(AuditSeal.day)):
        seals += 1
        sealed_days.add(row.day)
        problems += _check_link(row, previous)
        previous = row
        if row.key_id != key_id(key):
            problems.append(SealProblem(row.day, f"signed with key {row.key_id}, not the key given"))
            continue
        expected = _mac(key, row.day, row.chains, row.rows, row.heads_sha256, row.prev_hmac)
        if not hmac.compare_digest(expected, row.hmac) or _digest(row.heads) != row.heads_sha256:
            problems.append(SealProblem(row.day, "its signature does not match: the seal itself was altered"))
            continue
        problems += _check_heads(session, row)
    problems += _missing_days(session, sealed_days, today)
    if expect is not None:
        problems += _check_expected(session, expect)
    return seals, problems


def _check_link(row: AuditSeal, previous: AuditSeal | None) -> list[SealProblem]:
    if row.prev_hmac is None:  # made before seals were chained: nothing to link
        return []
    if previous is None:
        if row.prev_hmac != "":
            return [
                SealProblem(row.day, "the seals before this one were deleted (it links to an earlier seal)")
            ]
        return []
    if row.prev_hmac != previous.hmac:
        return [SealProblem(row.day, f"it does not link to the seal of {previous.day.isoformat()}: "
                                     "a seal between them was deleted or replaced")]  # fmt: skip
    return []


def _check_heads(session: Session, row: AuditSeal) -> list[SealProblem]:
    problems = _check_facts(session, row)
    heads, rows = heads_of(session, row.day)
    sealed_heads = {k: v for k, v in row.heads.items() if k != FACTS}
    for reference in sorted(set(sealed_heads) | set(heads)):
        sealed, now = sealed_heads.get(reference), heads.get(reference)
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
    if rows != row.rows and not problems:
        problems.append(SealProblem(row.day, f"{rows} rows now, {row.rows} sealed"))
    return problems


def _check_facts(session: Session, row: AuditSeal) -> list[SealProblem]:
    """The day's revue decisions and access denials as sealed (seals that cover them)."""
    sealed = row.heads.get(FACTS)
    if sealed is None:
        return []
    now = facts_of(session, row.day)
    problems = []
    for (count, digest), (was, was_digest), what in (
        (now[0:2], sealed[0:2], "décision(s) de revue"),
        (now[2:4], sealed[2:4], "refus d'accès"),
    ):
        if digest != was_digest:
            change = "modifiée(s)" if count == was else "supprimée(s) ou ajoutée(s)"
            problems.append(SealProblem(row.day, f"{what} de ce jour {change} depuis le scellement "
                                                 f"({count} maintenant, {was} scellée(s))"))  # fmt: skip
    return problems


def _missing_days(session: Session, sealed_days: set[date], today: date) -> list[SealProblem]:
    """Complete days without a seal: between the first seal and yesterday every day has one;
    before the first seal, a day with log rows should have one too (sealing starts there)."""
    first_row = session.scalar(select(func.min(TransitionLog.recorded_at)))
    starts = [
        d for d in (min(sealed_days, default=None), first_row and first_row.astimezone(UTC).date()) if d
    ]
    if not starts:
        return []
    first_seal = min(sealed_days, default=None)
    missing = []
    day, yesterday = min(starts), today - timedelta(days=1)
    while day <= yesterday:
        due = (first_seal is not None and day > first_seal) or heads_of(session, day)[1] > 0
        if day not in sealed_days and due:
            missing.append(day)
        day += timedelta(days=1)
    why = "deleted, or the nightly seal did not run"
    if len(missing) > 3:
        span = f"no seal for {len(missing)} complete days, {missing[0]} to {missing[-1]}: {why}"
        return [SealProblem(missing[0], span)]
    return [SealProblem(day, f"no seal for this complete day: {why}") for day in missing]


def _check_expected(session: Session, expect: str) -> list[SealProblem]:
    day_text, _, mac = expect.partition(":")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ConfigurationError(
            f"--expect {expect!r} n'est pas une tête comme `audit seal` l'écrit (JOUR:HMAC)"
        ) from None
    row = session.get(AuditSeal, day)
    if row is None:
        return [SealProblem(day, "the seal kept elsewhere is gone from the database")]
    if not hmac.compare_digest(row.hmac, mac):
        return [SealProblem(day, "the seal differs from the one kept elsewhere: the seals were rewritten")]
    return []
