"""The daily scan: pending reminders due by the day become emails to the caseworkers.

It reads only pending rows due by the day, through a partial index: its cost follows what is
due, not the number of cases. It writes the emails (the outbox) in its transaction; the unit of
work hands their ids to the caller after commit, which queues the sending tasks.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from models import Case, Email, Reminder, email_reminder
from workflow.adapters.unit_of_work import UnitOfWork, register_email
from workflow.application.reminders.planning import SCAN_BATCH, facts
from workflow.application.service_context import Context
from workflow.domain.reminder_rules import (
    Facts,
    moved_on,
    recipients,
)
from workflow.domain.vocabulary import EmailStatus, ReminderKind, ReminderStatus

log = logging.getLogger(__name__)

# Kinds whose due-day check needs the case's appointments.
_NEEDS_FACTS = frozenset({ReminderKind.CONVOCATION, ReminderKind.RDV_NON_TENU})


@dataclass
class ScanReport:
    day: date
    due: int = 0
    queued: Counter[str] = field(default_factory=Counter)  # by kind
    cancelled: Counter[str] = field(default_factory=Counter)  # by reason
    emails: int = 0
    flagged: int = 0  # cases flagged for the next revue (contract expired without decision)

    def summary(self) -> str:
        lines = [f"{self.day.isoformat()}: {self.due} reminder(s) due, {sum(self.queued.values())} queued "
                 f"in {self.emails} email(s), {sum(self.cancelled.values())} cancelled, "
                 f"{self.flagged} case(s) flagged for the next revue"]  # fmt: skip
        lines += [f"    {kind:30} {n:6}" for kind, n in sorted(self.queued.items())]
        lines += [f"    cancelled: {why:50} {n:6}" for why, n in sorted(self.cancelled.items())]
        return "\n".join(lines)


_DUE_COLUMNS = (
    Reminder.id.label("reminder_id"), Reminder.kind, Reminder.due_date,
    Case.id, Case.reference, Case.state, Case.convention_code, Case.convention_version_id,
    Case.orientation_date, Case.contract_start, Case.contract_end,
    Case.conseiller_id, Case.referent_social_id, Case.orienteur_id, Case.revue_flag,
)  # fmt: skip


_SCAN_LOCK = 0x52_45_4D_49  # "REMI": one daily scan at a time per database (PostgreSQL advisory lock)


def scan(uow: UnitOfWork, ctx: Context, day: date, *, digest: bool = False) -> ScanReport:
    """Queue every pending reminder due by `day` (or cancel it if the case moved on), by rounds
    of SCAN_BATCH, one transaction each. With `digest`, one email per caseworker for the day
    rather than one per reminder. Running it again the same day finds nothing more to do.

    Two scans started at once take turns on an advisory lock (the second then finds nothing
    due): one lock per round rather than a row lock per due reminder, which cost as much as the
    writes themselves. An event that cancels a reminder while a round runs wins or loses on the
    reminder's row: only rows still pending when the round closes them get an email.
    """
    report = ScanReport(day)
    with uow:
        while True:
            if _postgres(uow.session):
                uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCAN_LOCK})
            rows = uow.session.execute(
                select(*_DUE_COLUMNS)
                .join(Case, Case.id == Reminder.case_id)
                .where(Reminder.status == ReminderStatus.PENDING, Reminder.due_date <= day)
                .order_by(Reminder.due_date, Reminder.id)  # the partial index's order
                .limit(SCAN_BATCH)
            ).all()
            if not rows:
                break
            _round(uow.session, ctx, day, rows, digest, report)
            uow.commit()
    return report


def _round(
    session: Session, ctx: Context, day: date, rows: Sequence[Any], digest: bool, report: ScanReport
) -> None:
    now = ctx.clock.now()
    report.due += len(rows)
    known = facts(session, [r for r in rows if r.kind in _NEEDS_FACTS])
    to_send: list[tuple[Any, list[str]]] = []
    cancelled: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        case = cast(Case, row)  # the row carries the columns the rules read
        terms, _ = ctx.terms(session, case, day)
        kind = ReminderKind(row.kind)
        why = moved_on(kind, row.due_date, case, terms, known.get(row.id, Facts(False, frozenset())), day)
        if why is None:
            to_send.append((row, recipients(kind, case)))
        else:
            cancelled[why].append(row.reminder_id)
    for why, ids in cancelled.items():
        report.cancelled[why] += len(_close(session, ids, ReminderStatus.CANCELLED, now, why))
    taken = _close(session, [row.reminder_id for row, _ in to_send], ReminderStatus.QUEUED, now, None)
    to_send = [(row, to) for row, to in to_send if row.reminder_id in taken]
    if not to_send:
        return
    report.queued.update(row.kind for row, _ in to_send)
    if digest:
        per_person: dict[str, list[int]] = defaultdict(list)
        for row, to in to_send:
            for pid in to:
                per_person[pid].append(row.reminder_id)
        emails = {f"digest:{day.isoformat()}:{pid}:{ids[0]}": ([pid], ids) for pid, ids in per_person.items()}
    else:
        emails = {f"reminder:{row.reminder_id}": (to, [row.reminder_id]) for row, to in to_send}
    ids_by_key = _insert_emails(session, {key: to for key, (to, _) in emails.items()}, now)
    _link(session, [(ids_by_key[key], rid) for key, (_, rids) in emails.items() for rid in rids])
    for email_id in ids_by_key.values():
        register_email(session, email_id)
    expired = [row.id for row, _ in to_send if row.kind == ReminderKind.ECHU and row.revue_flag is None]
    if expired:
        session.execute(
            update(Case)
            .where(Case.id.in_(expired))
            .values(revue_flag=ReminderKind.ECHU.value, revue_flagged_on=day)
        )
        report.flagged += len(expired)
    report.emails += len(emails)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# On PostgreSQL the scan's bulk writes go as one statement each over arrays (unnest, ANY): ten
# thousand rows bound as arrays cost a few milliseconds, as many bound parameters far more.


def _insert_emails(session: Session, recipients: dict[str, list[str]], now: datetime) -> dict[str, int]:
    """Insert one pending email per key; return their ids by key."""
    keys = list(recipients)
    if _postgres(session):
        rows = session.execute(
            text(
                "INSERT INTO email (key, recipients, status, attempts, created_at) "
                "SELECT k, CAST(r AS json), :status, 0, :now "
                "FROM unnest(CAST(:keys AS text[]), CAST(:recipients AS text[])) AS t(k, r) RETURNING key, id"
            ),
            {"status": EmailStatus.PENDING.value, "now": now, "keys": keys,
             "recipients": [json.dumps(recipients[k]) for k in keys]},
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
                "SELECT * FROM unnest(CAST(:emails AS integer[]), CAST(:reminders AS integer[]))"
            ),
            {"emails": [e for e, _ in pairs], "reminders": [r for _, r in pairs]},
        )
    else:
        session.execute(insert(email_reminder), [{"email_id": e, "reminder_id": r} for e, r in pairs])


def _close(
    session: Session, ids: list[int], status: ReminderStatus, now: datetime, note: str | None
) -> set[int]:
    """Move still-pending reminders to `status`; return the ids that were still pending."""
    if not ids:
        return set()
    if _postgres(session):
        closed = session.execute(
            text(
                "UPDATE reminder SET status = :status, closed_at = :now, note = :note "
                "WHERE id = ANY(:ids) AND status = :pending RETURNING id"
            ),
            {
                "status": status.value,
                "now": now,
                "note": note,
                "ids": ids,
                "pending": ReminderStatus.PENDING.value,
            },
        )
        return set(closed.scalars())
    taken: set[int] = set()
    for lo in range(0, len(ids), SCAN_BATCH):
        closed = session.execute(
            update(Reminder)
            .where(Reminder.id.in_(ids[lo : lo + SCAN_BATCH]), Reminder.status == ReminderStatus.PENDING)
            .values(status=status.value, closed_at=now, note=note)
            .returning(Reminder.id)
        )
        taken.update(closed.scalars())
    return taken
