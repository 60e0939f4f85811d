"""The replay check: every case rebuilt from its log alone, compared with its stored row.

The chain (`chain.py`) proves the log was not edited; this proves the case rows follow from it.
Each case is rebuilt through the lifecycle's own moves and effects (`workflow.domain.log_replay`)
and compared field by field with its row: a row changed outside a decision (a raw UPDATE, a
restore mixed with another) shows as a difference, a log row that does not play again (a move
the table does not have, an effect that now computes another date) as a problem.

One pass: the cases by ranges of ids with their log rows (`point_in_time.by_ranges`), so the
memory is that of one range whatever the number of cases. On PostgreSQL the pass reads one
snapshot (REPEATABLE READ, when the session has not begun already), so that a decision committed
meanwhile is not taken for a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case
from workflow.application.queries import point_in_time
from workflow.application.service_context import Context
from workflow.domain.errors import NotFound
from workflow.domain.log_replay import (
    COMPARED,
    Difference,
    TermsOf,
    differences,
    rebuild,
    reminder_day_fits,
    row_day,
)

STORED = (Case.id, *(getattr(Case, name) for name in COMPARED), Case.reference, Case.next_reminder_on)


@dataclass(frozen=True)
class CaseFinding:
    """What the replay found wrong with one case."""

    reference: str
    differences: list[Difference]
    problems: list[str]


@dataclass
class ReplayReport:
    cases: int = 0
    rows: int = 0
    findings: int = 0  # cases with a difference or a problem
    fields: dict[str, int] = field(default_factory=dict)  # differences by field

    @property
    def ok(self) -> bool:
        return self.findings == 0


def replay(
    session: Session, ctx: Context, report: Callable[[CaseFinding], None], reference: str | None = None
) -> ReplayReport:
    """Rebuild every case (or one) and hand each finding to `report` as it is found."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    cases = select(*STORED)
    if reference is not None:
        cases = cases.where(Case.reference == reference)
        if session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            raise NotFound(f"aucun dossier de référence {reference!r}")
    out = ReplayReport()
    terms = point_in_time.terms_of(session, ctx)
    for stored, rows in point_in_time.by_ranges(session, cases):
        out.cases += 1
        out.rows += len(rows)
        finding = _check(stored, rows, terms)
        if finding is not None:
            out.findings += 1
            for diff in finding.differences:
                out.fields[diff.field] = out.fields.get(diff.field, 0) + 1
            report(finding)
    return out


def _check(stored: Any, rows: list[Any], terms: TermsOf) -> CaseFinding | None:
    rebuilt = rebuild(rows, terms)
    if rebuilt.case is None:
        return CaseFinding(
            stored.reference, [], ["aucune ligne d'ouverture dans le journal", *rebuilt.problems]
        )
    found = differences(stored._mapping, rebuilt.case)
    case_terms, _ = terms(rebuilt.case, row_day(rows[-1]))
    if not reminder_day_fits(stored.next_reminder_on, rebuilt.case, case_terms):
        found.append(
            Difference(stored.reference, "next_reminder_on", stored.next_reminder_on, "un jour du plan")
        )
    if not found and not rebuilt.problems:
        return None
    return CaseFinding(stored.reference, found, rebuilt.problems)
