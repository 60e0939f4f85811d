"""The daily scan's reads and bulk writes (`workflow.application.reminders.daily_scan`), reached
as `uow.reminder_rounds`: the cases whose next reminder day has come, the reminder rows, their
emails and links, and the cases' next day, each written as one statement per round.

On PostgreSQL the bulk writes go as one statement each, their rows bound as one JSON text
(json_array_elements): ten thousand rows cost a few milliseconds, as many bound parameters far
more, and psycopg's text arrays quote each element with a regular expression (twice the time of
the JSON, `bench/reminders.py`'s profile). SQLite takes executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from models import Case, Email, Reminder, email_reminder
from workflow.adapters.email_registry import register_email
from workflow.domain.vocabulary import EmailStatus

_SCAN_LOCK = 0x52_45_4D_49  # "REMI": one daily scan at a time per database (PostgreSQL advisory lock)

# What the rules read of a case due for a reminder: a row of these columns, not the whole case.
CASE_COLUMNS = (
    Case.id, Case.reference, Case.state, Case.convention_code, Case.convention_version_id,
    Case.orientation_date, Case.contract_start, Case.contract_end,
    Case.conseiller_id, Case.referent_social_id, Case.orienteur_id, Case.revue_flag, Case.log_seq,
    Case.next_reminder_on,
)  # fmt: skip

ReminderKey = tuple[int, str, date]  # (case id, kind, due day): unique


class ReminderRounds:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    def wait_for_other_scans(self) -> None:
        """Two scans started at once take turns (PostgreSQL; SQLite's write lock does it)."""
        if self._postgres:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCAN_LOCK})

    def due(self, day: date, limit: int) -> Sequence[Any]:
        """Up to `limit` cases whose next reminder day is `day` or before, in the partial
        index's order."""
        query = select(*CASE_COLUMNS).where(Case.next_reminder_on <= day)
        return self.session.execute(query.order_by(Case.next_reminder_on, Case.id).limit(limit)).all()

    def locked_case(self, case_id: int) -> Case:
        """The case, locked for a decision of the system actor."""
        return self.session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)).one()

    def move_on(self, moves: dict[int, tuple[int, date | None]]) -> set[int]:
        """Set each case's next reminder day ({id: (log seq read, next day)}), unless a transition
        changed the case since it was read (its log head moved); return the ids moved on."""
        if not moves:
            return set()
        ids = sorted(moves)
        if self._postgres:
            moved = self.session.execute(
                text(
                    "UPDATE case_file SET next_reminder_on = CAST(m->>2 AS date) "
                    "FROM json_array_elements(CAST(:rows AS json)) AS m "
                    "WHERE case_file.id = CAST(m->>0 AS integer) "
                    "AND case_file.log_seq = CAST(m->>1 AS integer) "
                    "RETURNING case_file.id"
                ),
                {"rows": _json_rows([(i, *moves[i]) for i in ids])},
            )
            return set(moved.scalars())
        # SQLite: the round holds the database's write lock (`take_write_lock`), nothing changed.
        table: Table = Case.__table__  # type: ignore[assignment]
        self.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(next_reminder_on=bindparam("b_next")),
            [{"b_id": i, "b_next": moves[i][1]} for i in ids],
        )
        return set(ids)

    def insert_reminders(
        self, rows: Sequence[tuple[ReminderKey, str, str | None]], now: datetime, batch: int
    ) -> dict[ReminderKey, int]:
        """Insert each (key, status, note) not written before; return the ids of those inserted."""
        if not rows:
            return {}
        if self._postgres:
            payload = _json_rows([(*key, status, note) for key, status, note in rows])
            inserted = self.session.execute(
                text(
                    "INSERT INTO reminder (case_id, kind, due_date, status, created_at, closed_at, note) "
                    "SELECT CAST(r->>0 AS integer), r->>1, CAST(r->>2 AS date), r->>3, :now, :now, r->>4 "
                    "FROM json_array_elements(CAST(:rows AS json)) AS r "
                    "ON CONFLICT DO NOTHING RETURNING id, case_id, kind, due_date"
                ),
                {"now": now, "rows": payload},
            )
            return {(c, k, d): rid for rid, c, k, d in inserted}
        ids: dict[ReminderKey, int] = {}
        for lo in range(0, len(rows), batch):
            values = [
                {"case_id": c, "kind": k, "due_date": d, "status": status, "created_at": now,
                 "closed_at": now, "note": note}
                for (c, k, d), status, note in rows[lo : lo + batch]
            ]  # fmt: skip
            for rid, c, k, d in self.session.execute(
                sqlite.insert(Reminder)
                .on_conflict_do_nothing()
                .returning(Reminder.id, Reminder.case_id, Reminder.kind, Reminder.due_date),
                values,
            ):
                ids[(c, k, d)] = rid
        return ids

    def insert_emails(self, recipients: dict[str, list[str]], now: datetime) -> dict[str, int]:
        """Insert one pending email per key, announced after commit; return their ids by key."""
        keys = list(recipients)
        if self._postgres:
            rows = self.session.execute(
                text(
                    "INSERT INTO email (key, recipients, status, attempts, created_at) "
                    "SELECT e->>0, e->1, :status, 0, :now FROM json_array_elements(CAST(:rows AS json)) AS e "
                    "RETURNING key, id"
                ),
                {"status": EmailStatus.PENDING.value, "now": now,
                 "rows": json.dumps([(k, recipients[k]) for k in keys])},
            )  # fmt: skip
        else:
            rows = self.session.execute(
                insert(Email).returning(Email.key, Email.id),
                [{"key": k, "recipients": recipients[k], "status": EmailStatus.PENDING.value, "attempts": 0,
                  "created_at": now} for k in keys],
            )  # fmt: skip
        ids = {key: email_id for key, email_id in rows}
        for email_id in ids.values():
            register_email(self.session, email_id)
        return ids

    def link(self, pairs: list[tuple[int, int]]) -> None:
        """email_reminder rows (email id, reminder id)."""
        if self._postgres:
            self.session.execute(
                text(
                    "INSERT INTO email_reminder (email_id, reminder_id) "
                    "SELECT CAST(e->>0 AS integer), CAST(e->>1 AS integer) "
                    "FROM json_array_elements(CAST(:rows AS json)) AS e"
                ),
                {"rows": json.dumps(pairs)},
            )
        else:
            self.session.execute(
                insert(email_reminder), [{"email_id": e, "reminder_id": r} for e, r in pairs]
            )


def _json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """Rows of ints, strings, None and dates as one JSON text (dates in ISO form)."""
    return json.dumps([[v.isoformat() if isinstance(v, date) else v for v in row] for row in rows])
