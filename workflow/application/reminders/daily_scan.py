"""The daily scan: the reminders falling due by the day become emails to the caseworkers.

The plan is derived, not stored: the scan reads only the cases whose next reminder day has
come (a partial index on `case_file.next_reminder_on`), so its cost follows what is due, not
the number of cases. For each it derives the reminders due from that day to the scan's with
the same pure rules as the transitions (`reminder_rules.due_by`), writes each once (queued
with its email, or cancelled with why: the key (case, kind, day) is unique, so a reminder
written before is left as it is), and moves the case's next reminder day on. The emails are the
outbox: the unit of work hands their ids to the caller after commit, which queues the sending
tasks.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from models import Case, Email, Reminder, email_reminder
from workflow.adapters.unit_of_work import UnitOfWork, register_email
from workflow.application.deciding import decide
from workflow.application.reminders.planning import SCAN_BATCH, facts
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.decision import Actor
from workflow.domain.lifecycle import SIGNALER_ECHU
from workflow.domain.reminder_rules import Facts, Planned, due_by, moved_on, recipients
from workflow.domain.vocabulary import EmailStatus, ReminderKind, ReminderStatus, Role

# Kinds whose due-day check needs the case's appointments.
_NEEDS_FACTS = frozenset({ReminderKind.CONVOCATION, ReminderKind.RDV_NON_TENU})
_NO_FACTS = Facts(False, frozenset())


@dataclass
class ScanReport:
    day: date
    due: int = 0
    queued: Counter[str] = field(default_factory=Counter)  # by kind
    cancelled: Counter[str] = field(default_factory=Counter)  # by reason
    emails: int = 0
    flagged: int = 0  # cases flagged for the next revue (contract expired without decision)

    def summary(self) -> str:
        queued, cancelled = sum(self.queued.values()), sum(self.cancelled.values())
        lines = [f"{labels.day(self.day)} : {self.due} rappel(s) dû(s), {queued} envoyé(s) "
                 f"en {self.emails} email(s), {cancelled} annulé(s), "
                 f"{self.flagged} dossier(s) signalé(s) pour la prochaine revue"]  # fmt: skip
        lines += [
            f"    {labels.word(labels.REMINDER_KINDS, kind):58} {n:6}"
            for kind, n in sorted(self.queued.items())
        ]
        lines += [f"    annulé : {why:58} {n:6}" for why, n in sorted(self.cancelled.items())]
        return "\n".join(lines)


_CASE_COLUMNS = (
    Case.id, Case.reference, Case.state, Case.convention_code, Case.convention_version_id,
    Case.orientation_date, Case.contract_start, Case.contract_end,
    Case.conseiller_id, Case.referent_social_id, Case.orienteur_id, Case.revue_flag, Case.log_seq,
    Case.next_reminder_on,
)  # fmt: skip


SYSTEM = Actor("systeme", Role.SYSTEME)
_SCAN_LOCK = 0x52_45_4D_49  # "REMI": one daily scan at a time per database (PostgreSQL advisory lock)


@dataclass(frozen=True)
class _Written:
    """A reminder the round decided on: queued to `to`, or cancelled (`why`)."""

    case: Any
    planned: Planned
    to: list[str]
    why: str | None


def scan(uow: UnitOfWork, ctx: Context, day: date, *, digest: bool = False) -> ScanReport:
    """Write every reminder due by `day` (queued with its email, or cancelled if the case moved
    on), by rounds of SCAN_BATCH cases, one transaction each. With `digest`, one email per
    caseworker for the day rather than one per reminder. Running it again the same day finds
    nothing more to do.

    Two scans started at once take turns on an advisory lock (the second then finds nothing
    due). An event that changes a case while a round runs wins: the round moves a case on only
    if its log head (`log_seq`) is still the one it read, and the next round reads that case
    again as the event left it. No row lock is taken on the cases read, so the scan never waits
    for an ingestion chunk, nor makes one wait.
    """
    report = ScanReport(day)
    with uow:
        while True:
            uow.take_write_lock()
            if _postgres(uow.session):
                uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCAN_LOCK})
            rows = uow.session.execute(
                select(*_CASE_COLUMNS)
                .where(Case.next_reminder_on <= day)  # the partial index, in its order
                .order_by(Case.next_reminder_on, Case.id)
                .limit(SCAN_BATCH)
            ).all()
            if not rows:
                break
            _round(uow, ctx, day, rows, digest, report)
            uow.commit()
    return report


def _round(
    uow: UnitOfWork, ctx: Context, day: date, rows: Sequence[Any], digest: bool, report: ScanReport
) -> None:
    session = uow.session
    now = ctx.clock.now()
    decided: list[_Written] = []
    moves: dict[int, tuple[int, date | None]] = {}
    plans: dict[int, list[Planned]] = {}
    for row in rows:
        case = cast(Case, row)  # the row carries the columns the rules read
        terms, _ = ctx.terms(session, case, day)
        plans[row.id], upcoming = due_by(case, terms, day)
        moves[row.id] = (row.log_seq, upcoming)
    known = facts(session, [r for r in rows if any(p.kind in _NEEDS_FACTS for p in plans[r.id])])
    for row in rows:
        case = cast(Case, row)
        for planned in plans[row.id]:
            why = moved_on(planned.kind, case, known.get(row.id, _NO_FACTS), day)
            decided.append(_Written(row, planned, [] if why else recipients(planned.kind, case), why))
    kept = _move_on(session, moves)
    written = _write(session, [d for d in decided if d.case.id in kept], now)
    report.due += len(written)
    for d, _ in written:
        if d.why is not None:
            report.cancelled[d.why] += 1
    to_send = [(d, rid) for d, rid in written if d.why is None]
    if not to_send:
        return
    report.queued.update(d.planned.kind for d, _ in to_send)
    if digest:
        per_person: dict[str, list[int]] = defaultdict(list)
        for d, rid in to_send:
            for pid in d.to:
                per_person[pid].append(rid)
        emails = {f"digest:{day.isoformat()}:{pid}:{ids[0]}": ([pid], ids) for pid, ids in per_person.items()}
    else:
        emails = {f"reminder:{rid}": (d.to, [rid]) for d, rid in to_send}
    ids_by_key = _insert_emails(session, {key: to for key, (to, _) in emails.items()}, now)
    _link(session, [(ids_by_key[key], rid) for key, (_, rids) in emails.items() for rid in rids])
    for email_id in ids_by_key.values():
        register_email(session, email_id)
    expired = sorted(
        {d.case.id for d, _ in to_send if d.planned.kind == ReminderKind.ECHU and d.case.revue_flag is None}
    )
    for case_id in expired:
        _flag_for_revue(uow, ctx, case_id, day)
    report.flagged += len(expired)
    report.emails += len(emails)


def _flag_for_revue(uow: UnitOfWork, ctx: Context, case_id: int, day: date) -> None:
    """The expired contract goes to the next revue: a decision of the system actor, logged like
    every change of a case (few a day: the contracts that ran out with no decision)."""
    case = uow.session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)).one()
    decide(uow, ctx, case, SIGNALER_ECHU, actor=SYSTEM, occurred_at=ctx.clock.now(), on=day)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# On PostgreSQL the scan's bulk writes go as one statement each, their rows bound as one JSON
# text (json_array_elements): ten thousand rows cost a few milliseconds, as many bound parameters
# far more, and psycopg's text arrays quote each element with a regular expression (twice the
# time of the JSON, `bench/reminders.py`'s profile).


def _json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """Rows of ints, strings, None and dates as one JSON text (dates in ISO form)."""
    return json.dumps([[v.isoformat() if isinstance(v, date) else v for v in row] for row in rows])


def _insert_emails(session: Session, recipients: dict[str, list[str]], now: datetime) -> dict[str, int]:
    """Insert one pending email per key; return their ids by key."""
    keys = list(recipients)
    if _postgres(session):
        rows = session.execute(
            text(
                "INSERT INTO email (key, recipients, status, attempts, created_at) "
                "SELECT e->>0, e->1, :status, 0, :now FROM json_array_elements(CAST(:rows AS json)) AS e "
                "RETURNING key, id"
            ),
            {"status": EmailStatus.PENDING.value, "now": now,
             "rows": json.dumps([(k, recipients[k]) for k in keys])},
        )  # fmt: skip
    else:
        rows = session.execute(
            insert(Email).returning(Email.key, Email.id),
            [{"key": k, "recipients": recipients[k], "status": EmailStatus.PENDING.value, "attempts": 0,
              "created_at": now} for k in keys],
        )  # fmt: skip
    return {key: email_id for key, email_id in rows}


def _link(session: Session, pairs: list[tuple[int, int]]) -> None:
    """email_reminder rows (email id, reminder id)."""
    if _postgres(session):
        session.execute(
            text(
                "INSERT INTO email_reminder (email_id, reminder_id) "
                "SELECT CAST(e->>0 AS integer), CAST(e->>1 AS integer) "
                "FROM json_array_elements(CAST(:rows AS json)) AS e"
            ),
            {"rows": json.dumps(pairs)},
        )
    else:
        session.execute(insert(email_reminder), [{"email_id": e, "reminder_id": r} for e, r in pairs])


def _move_on(session: Session, moves: dict[int, tuple[int, date | None]]) -> set[int]:
    """Set each case's next reminder day, unless a transition changed the case since it was
    read (its log head moved); return the ids of the cases moved on."""
    if not moves:
        return set()
    ids = sorted(moves)
    if _postgres(session):
        moved = session.execute(
            text(
                "UPDATE case_file SET next_reminder_on = CAST(m->>2 AS date) "
                "FROM json_array_elements(CAST(:rows AS json)) AS m "
                "WHERE case_file.id = CAST(m->>0 AS integer) AND case_file.log_seq = CAST(m->>1 AS integer) "
                "RETURNING case_file.id"
            ),
            {"rows": _json_rows([(i, *moves[i]) for i in ids])},
        )
        return set(moved.scalars())
    # SQLite: the round holds the database's write lock (`take_write_lock`), nothing changed.
    table: Table = Case.__table__  # type: ignore[assignment]
    session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(next_reminder_on=bindparam("b_next")),
        [{"b_id": i, "b_next": moves[i][1]} for i in ids],
    )
    return set(ids)


def _write(session: Session, decided: Sequence[_Written], now: datetime) -> list[tuple[_Written, int]]:
    """Insert the reminder rows not written before; return those inserted with their ids."""
    if not decided:
        return []
    keys = [(d.case.id, d.planned.kind.value, d.planned.due) for d in decided]
    statuses = [ReminderStatus.CANCELLED.value if d.why else ReminderStatus.QUEUED.value for d in decided]
    if _postgres(session):
        payload = _json_rows([(*key, st, d.why) for key, st, d in zip(keys, statuses, decided, strict=True)])
        inserted = session.execute(
            text(
                "INSERT INTO reminder (case_id, kind, due_date, status, created_at, closed_at, note) "
                "SELECT CAST(r->>0 AS integer), r->>1, CAST(r->>2 AS date), r->>3, :now, :now, r->>4 "
                "FROM json_array_elements(CAST(:rows AS json)) AS r "
                "ON CONFLICT DO NOTHING RETURNING id, case_id, kind, due_date"
            ),
            {"now": now, "rows": payload},
        )
        ids = {(c, k, d): rid for rid, c, k, d in inserted}
    else:
        ids = {}
        for lo in range(0, len(decided), SCAN_BATCH):
            rows = [
                {"case_id": c, "kind": k, "due_date": d, "status": st, "created_at": now, "closed_at": now,
                 "note": w.why}
                for (c, k, d), st, w in zip(keys[lo : lo + SCAN_BATCH], statuses[lo : lo + SCAN_BATCH],
                                            decided[lo : lo + SCAN_BATCH], strict=True)
            ]  # fmt: skip
            for rid, c, k, d in session.execute(
                sqlite.insert(Reminder)
                .on_conflict_do_nothing()
                .returning(Reminder.id, Reminder.case_id, Reminder.kind, Reminder.due_date),
                rows,
            ):
                ids[(c, k, d)] = rid
    return [(d, ids[key]) for d, key in zip(decided, keys, strict=True) if key in ids]
