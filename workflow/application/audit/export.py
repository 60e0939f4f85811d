"""Reading the log for people: the search behind `audit search` and the console's Journal,
the delays between two states, and the export as CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import Case, Professional, TransitionLog
from workflow.adapters import french_csv
from workflow.adapters.read_scope import readable
from workflow.application.audit.chain import iso
from workflow.domain.clock import PARIS, paris_date

AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")
EXPORT_BATCH = 2_000  # rows fetched per round trip: ~1 MB of Python objects


@dataclass(frozen=True)
class LogFilter:
    """What a supervisor asks of the log; `reader` limits it to the cases they may read."""

    case_reference: str | None = None
    actor_id: str | None = None
    actor_role: str | None = None
    trigger: str | None = None
    reason: str | None = None
    departement: str | None = None
    agence: str | None = None
    since: date | None = None  # inclusive, a day in Paris time (the day people read)
    until: date | None = None  # inclusive
    reader: Professional | None = None

    def query(self, newest_first: bool = False) -> Select[TransitionLog]:
        """In the order rows happened (exports, `audit search`), or newest first (the console's
        Journal, where a supervisor looks for what just happened)."""
        if newest_first:
            return self.narrow(
                select(TransitionLog).order_by(TransitionLog.occurred_at.desc(), TransitionLog.id.desc())
            )
        return self.narrow(select(TransitionLog).order_by(TransitionLog.occurred_at, TransitionLog.id))

    def narrow(self, q: AnySelect) -> AnySelect:
        equal = {
            TransitionLog.case_reference: self.case_reference,
            TransitionLog.actor_id: self.actor_id,
            TransitionLog.actor_role: self.actor_role,
            TransitionLog.trigger: self.trigger,
            TransitionLog.reason: self.reason,
        }
        for column, value in equal.items():
            if value:
                q = q.where(column == value)
        if self.since:
            q = q.where(TransitionLog.occurred_at >= datetime.combine(self.since, time(), PARIS))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), PARIS)
            q = q.where(TransitionLog.occurred_at < end)
        if self.departement or self.agence or self.reader is not None:
            q = q.join(Case, Case.id == TransitionLog.case_id).where(readable(self.reader))
            if self.departement:
                q = q.where(Case.convention_code == self.departement)
            if self.agence:
                q = q.where(Case.agence == self.agence)
        return q


@dataclass(frozen=True)
class Delay:
    case_reference: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return round((self.end - self.start).total_seconds() / 86400, 1)


def delays(session: Session, flt: LogFilter, from_state: str, to_state: str) -> list[Delay]:
    """Per case, from the first time it reached `from_state` to the first time after that it
    reached `to_state` (by occurred_at); cases that never did are left out."""
    scope = LogFilter(**{**flt.__dict__, "trigger": None, "since": None, "until": None, "actor_id": None})
    q = scope.narrow(select(TransitionLog.case_reference, TransitionLog.to_state, TransitionLog.occurred_at))
    q = q.where(TransitionLog.to_state.in_((from_state, to_state))).order_by(
        TransitionLog.case_id, TransitionLog.seq
    )
    starts: dict[str, datetime] = {}
    found: dict[str, Delay] = {}
    for reference, state, at in session.execute(q.execution_options(yield_per=EXPORT_BATCH)):
        if reference in found:
            continue
        if state == from_state and reference not in starts:
            starts[reference] = at
        elif state == to_state and reference in starts and at >= starts[reference]:
            found[reference] = Delay(reference, starts[reference], at)
    window = [d for d in found.values() if _within(paris_date(d.end), flt.since, flt.until)]
    return sorted(window, key=lambda d: d.case_reference)


def _within(day: date, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


EXPORT_FIELDS: Sequence[str] = (
    "id", "case_reference", "seq", "trigger", "from_state", "to_state", "actor_id", "actor_role",
    "occurred_at", "recorded_at", "event_id", "reason", "details", "prev_hash", "hash",
)  # fmt: skip


def export_rows(session: Session, flt: LogFilter) -> Iterator[dict[str, Any]]:
    for row in session.scalars(flt.query().execution_options(yield_per=EXPORT_BATCH)):
        record = {name: getattr(row, name) for name in EXPORT_FIELDS}
        record["occurred_at"] = iso(row.occurred_at)
        record["recorded_at"] = iso(row.recorded_at)
        yield record


def write_export(rows: Iterator[dict[str, Any]], out: TextIO, fmt: str) -> int:
    """Write CSV (comma, for scripts), Excel (the French spreadsheet's CSV: semicolons and a
    BOM) or JSON Lines; return the number of rows written. Every format keeps the values as
    logged, codes included: an auditor recomputes the chain's hashes from them. In the CSVs a
    text a spreadsheet would run as a formula (or one that begins with an apostrophe) is written
    after an apostrophe (`french_csv.inert`): drop that one apostrophe to get the logged value;
    JSON Lines keep every value untouched."""
    if fmt in ("csv", "excel"):
        records = (
            {**record, "details": json.dumps(record["details"], sort_keys=True, ensure_ascii=False)}
            for record in rows
        )
        if fmt == "excel":
            return french_csv.write_rows(
                out, EXPORT_FIELDS, ([record[name] for name in EXPORT_FIELDS] for record in records)
            )
        writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS))
        writer.writeheader()
        count = 0
        for record in records:
            writer.writerow({k: french_csv.inert(v) if isinstance(v, str) else v for k, v in record.items()})
            count += 1
        return count
    if fmt == "json":
        count = 0
        for record in rows:
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count
    raise ValueError(f"unknown export format {fmt!r} (csv, excel or json)")
