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

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.deciding import decide
from workflow.application.reminders.planning import SCAN_BATCH, facts
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.attempt import Actor
from workflow.domain.lifecycle import SIGNALER_ECHU
from workflow.domain.records import CaseFields
from workflow.domain.reminder_rules import Facts, Planned, due_by, moved_on, recipients
from workflow.domain.vocabulary import ReminderKind, ReminderStatus, Role

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


SYSTEM = Actor("systeme", Role.SYSTEME)


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
            uow.reminder_rounds.wait_for_other_scans()
            rows = uow.reminder_rounds.due(day, SCAN_BATCH)
            if not rows:
                break
            _round(uow, ctx, day, rows, digest, report)
            uow.commit()
    return report


def _round(
    uow: UnitOfWork, ctx: Context, day: date, rows: Sequence[Any], digest: bool, report: ScanReport
) -> None:
    rounds = uow.reminder_rounds
    now = ctx.clock.now()
    decided: list[_Written] = []
    moves: dict[int, tuple[int, date | None]] = {}
    plans: dict[int, list[Planned]] = {}
    for row in rows:
        case = cast(CaseFields, row)  # the row carries the columns the rules read
        terms, _ = ctx.terms(uow.session, case, day)
        plans[row.id], upcoming = due_by(case, terms, day)
        moves[row.id] = (row.log_seq, upcoming)
    known = facts(uow.session, [r for r in rows if any(p.kind in _NEEDS_FACTS for p in plans[r.id])])
    for row in rows:
        case = cast(CaseFields, row)
        for planned in plans[row.id]:
            why = moved_on(planned.kind, case, known.get(row.id, _NO_FACTS), day)
            decided.append(_Written(row, planned, [] if why else recipients(planned.kind, case), why))
    kept = rounds.move_on(moves)
    written = _write(uow, [d for d in decided if d.case.id in kept], now)
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
    ids_by_key = rounds.insert_emails({key: to for key, (to, _) in emails.items()}, now)
    rounds.link([(ids_by_key[key], rid) for key, (_, rids) in emails.items() for rid in rids])
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
    case = uow.reminder_rounds.locked_case(case_id)
    decide(uow, ctx, case, SIGNALER_ECHU, actor=SYSTEM, occurred_at=ctx.clock.now(), on=day)


def _write(uow: UnitOfWork, decided: Sequence[_Written], now: datetime) -> list[tuple[_Written, int]]:
    """Insert the reminder rows not written before; return those inserted with their ids."""
    keys = [(d.case.id, d.planned.kind.value, d.planned.due) for d in decided]
    rows = [
        (key, ReminderStatus.CANCELLED.value if d.why else ReminderStatus.QUEUED.value, d.why)
        for key, d in zip(keys, decided, strict=True)
    ]
    ids = uow.reminder_rounds.insert_reminders(rows, now, SCAN_BATCH)
    return [(d, ids[key]) for d, key in zip(decided, keys, strict=True) if key in ids]
