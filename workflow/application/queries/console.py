"""The console's lists: a reader's cases with their next deadline, the agencies and revues they
may see, a page of the audit log. Each is cut to what the reader may read
(`workflow.domain.permissions.readable`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, Professional, Revue, TransitionLog
from workflow.adapters.read_scope import readable
from workflow.application.audit.export import LogFilter
from workflow.application.queries.case_view import appointments_by_case, deadlines_of
from workflow.application.service_context import Context
from workflow.domain.clock import today
from workflow.domain.deadlines import Deadline
from workflow.domain.lifecycle import OPEN_STATES

PAGE_SIZE = 50
OPEN, ALL = "ouverts", "tous"  # the list's two filters besides one state; it opens on OPEN
SORTS = {
    "dossier": Case.reference,
    "etat": Case.state,
    "orientation": Case.orientation_date.desc(),
    "echeance": Case.next_reminder_on,
}
DEFAULT_SORT = "echeance"


@dataclass(frozen=True)
class Page:
    """One page of a list, and how many rows the whole list has."""

    rows: Sequence[Any]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def cases_page(
    session: Session, reader: Professional, state: str | None, agence: str | None, sort: str, page: int
) -> Page:
    """The reader's cases: the open ones (`OPEN`, what a caseworker works on), all (`ALL`) or
    those in one state (the day of each one's next reminder is on its row)."""
    query = select(Case).where(readable(reader))
    if state == OPEN:
        query = query.where(Case.state.in_(OPEN_STATES))
    elif state and state != ALL:
        query = query.where(Case.state == state)
    if agence:
        query = query.where(Case.agence == agence)
    order = SORTS[sort]
    query = query.order_by(order.asc().nulls_last() if sort == DEFAULT_SORT else order, Case.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page(rows, total)


@dataclass(frozen=True)
class Upcoming:
    """A case's next deadline not met yet, as the list names it."""

    deadline: Deadline
    status: str  # « dans 12 jours », « dépassée de 2 jours »


def next_deadlines(session: Session, ctx: Context, cases: Sequence[Case]) -> dict[int, Upcoming]:
    """For each case of a page, its first deadline still waiting (the earliest due); one query
    for the page's appointments."""
    day = today(ctx.clock)
    booked = appointments_by_case(session, [c.id for c in cases])
    upcoming = {}
    for case in cases:
        terms, _ = ctx.terms(session, case, day)
        waiting = [d for d in deadlines_of(case, terms, booked[case.id]) if not d.met]
        if waiting:
            first = min(waiting, key=lambda d: d.due)
            upcoming[case.id] = Upcoming(first, first.status(day))
    return upcoming


def agencies(session: Session, reader: Professional) -> list[str]:
    """The agencies of the cases the reader may read."""
    return list(session.scalars(select(Case.agence).where(readable(reader)).distinct().order_by(Case.agence)))


def revues(session: Session, readable: Any, agence: str | None, limit: int = 200) -> Sequence[Revue]:
    """The latest `readable` revues (`revue.recipients.readable_revues`; of one agency if `agence`)."""
    query = select(Revue).where(readable).order_by(Revue.month.desc(), Revue.agence)
    if agence:
        query = query.where(Revue.agence == agence)
    return session.scalars(query.limit(limit)).all()


def case_by_reference(session: Session, reference: str) -> Case | None:
    return session.scalar(select(Case).where(Case.reference == reference))


def log_page(session: Session, flt: LogFilter, page: int) -> Page:
    """A page of the audit log as the search filter narrows it, newest first."""
    total = session.scalar(flt.narrow(select(func.count(TransitionLog.id)))) or 0
    rows = session.scalars(flt.query(newest_first=True).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return Page(rows, total)
