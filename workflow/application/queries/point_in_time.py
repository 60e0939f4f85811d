"""Cases and portfolios as they stood at the end of a past day, rebuilt from the log.

Today's case row says nothing of last March: the log does. Each case is rebuilt from its log
rows in effect by the end of the day (`workflow.domain.log_replay`), never from the row as it is
now. The rows are read by ranges of case ids, in the order of the log's (case, seq) key, so a
portfolio of any size is read in one pass with the memory of one range.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import Case, Professional, TransitionLog
from workflow.adapters import french_csv
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.clock import PARIS
from workflow.domain.errors import NotFound, WorkflowError
from workflow.domain.lifecycle import OPEN_STATES, UNDER_CONTRACT, State
from workflow.domain.log_replay import LogRow, TermsOf, rebuild

RANGE = 2_000  # cases read per round trip: their rows and rebuilt cases, a few MB

LOG_COLUMNS = (
    TransitionLog.case_id, TransitionLog.case_reference, TransitionLog.seq, TransitionLog.trigger,
    TransitionLog.from_state, TransitionLog.to_state, TransitionLog.actor_id, TransitionLog.actor_role,
    TransitionLog.occurred_at, TransitionLog.event_id, TransitionLog.details, TransitionLog.hash,
)  # fmt: skip


def end_of(day: date) -> datetime:
    """The first instant after a Paris day."""
    return datetime.combine(day + timedelta(days=1), time(0), PARIS)


def terms_of(session: Session, ctx: Context) -> TermsOf:
    """The terms a rebuilt case runs under, found as the decisions found them."""
    return lambda case, on: ctx.terms(session, case, on)


def by_ranges(session: Session, cases: Select[*tuple[Any, ...]]) -> Iterator[tuple[Any, list[LogRow]]]:
    """Each case `cases` selects (its first column the case id), with its log rows in chain
    order: keyset ranges of RANGE ids, one query for their rows each."""
    last = 0
    while True:
        batch = session.execute(cases.where(Case.id > last).order_by(Case.id).limit(RANGE)).all()
        if not batch:
            return
        first, last = batch[0][0], batch[-1][0]
        rows: dict[int, list[LogRow]] = defaultdict(list)
        query = (
            select(*LOG_COLUMNS)
            .where(TransitionLog.case_id.between(first, last))
            .order_by(TransitionLog.case_id, TransitionLog.seq)
        )
        for row in session.execute(query):
            rows[row.case_id].append(row)
        for case in batch:
            yield case, rows.pop(case[0], [])


@dataclass
class Portfolio:
    """The open cases of a scope at the end of a day: by state, and per conseiller."""

    day: date
    scope: str
    target: tuple[int, int] | None  # the convention's portfolio per conseiller (70-100)
    by_state: Counter[str] = field(default_factory=Counter)
    per_conseiller: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    unreplayed: list[str] = field(default_factory=list)  # what the log could not rebuild

    @staticmethod
    def load(states: Counter[str]) -> int:
        """A conseiller's portfolio: the people under contract (seed 001 art. 3.2: 70 to 100)."""
        return sum(states[s] for s in UNDER_CONTRACT)

    def verdict(self, load: int) -> str:
        if self.target is None:
            return ""
        return labels.portfolio_verdict(load, *self.target)

    def rows(self) -> list[list[Any]]:
        """One row per conseiller (« sans binôme » for cases before their assignment)."""
        out = []
        for conseiller, states in sorted(self.per_conseiller.items()):
            load = self.load(states)
            verdict = self.verdict(load) if conseiller else ""
            out.append([conseiller or "sans binôme", *(states[s] for s in OPEN_ORDER), load, verdict])
        return out

    def header(self) -> list[str]:
        return ["Conseiller", *(labels.STATES[s] for s in OPEN_ORDER), "Portefeuille", "Cible"]

    def csv(self) -> str:
        buffer = io.StringIO(newline="")
        french_csv.write_rows(
            buffer, ["Date", "Périmètre", *self.header()],
            ([labels.day(self.day), self.scope, *row] for row in self.rows()),
        )  # fmt: skip
        return buffer.getvalue()


OPEN_ORDER = (State.REPERAGE, State.DIAGNOSTIC, State.CONTRAT, State.RENOUVELLEMENT)


def portfolio_at(
    session: Session,
    ctx: Context,
    day: date,
    *,
    agence: str | None = None,
    conseiller: str | None = None,
    departement: str | None = None,
) -> Portfolio:
    """The open cases of an agency, a conseiller or a département at the end of `day`. A
    conseiller's are those where they were the binôme's conseiller that day."""
    if [agence, conseiller, departement].count(None) != 2:
        raise WorkflowError("donnez l'un de --agency, --conseiller ou --departement")
    cases = select(Case.id, Case.convention_code).where(Case.orientation_date <= day)
    if agence is not None:
        cases, scope = cases.where(Case.agence == agence), f"agence {agence}"
    elif departement is not None:
        cases, scope = cases.where(Case.convention_code == departement), f"département {departement}"
    else:
        pro = session.get(Professional, conseiller)
        if pro is None:
            raise NotFound(f"aucun professionnel {conseiller!r} dans l'annuaire")
        cases, scope = cases.where(Case.convention_code == pro.departement), f"conseiller {conseiller}"
    codes = _codes(session, cases)
    target = None
    if len(codes) == 1:
        convention = ctx.book.in_force(codes[0], day).terms
        target = (convention.portfolio_min, convention.portfolio_max)
    out = Portfolio(day, scope, target)
    terms = terms_of(session, ctx)
    for _, rows in by_ranges(session, cases):
        rebuilt = rebuild(rows, terms, until=day)
        out.unreplayed += rebuilt.problems
        case = rebuilt.case
        if case is None or case.state not in OPEN_STATES:
            continue
        if conseiller is not None and case.conseiller_id != conseiller:
            continue
        out.by_state[case.state] += 1
        out.per_conseiller[case.conseiller_id or ""][case.state] += 1
    return out


def _codes(session: Session, cases: Select[*tuple[Any, ...]]) -> Sequence[str]:
    sub = cases.subquery()
    return session.scalars(select(sub.c.convention_code).distinct()).all()
