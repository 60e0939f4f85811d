"""A caseworker's deadlines for their calendar: every deadline still waiting on the open cases
where they are in the binôme (the conseiller or the référent social), what the ICS feed carries
(`workflow.adapters.ics`)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Case
from workflow.application.queries.case_view import appointments_by_case, deadlines_of
from workflow.application.service_context import Context
from workflow.domain.clock import today
from workflow.domain.deadlines import CaseDeadline
from workflow.domain.lifecycle import OPEN_STATES


def waiting_deadlines(session: Session, ctx: Context, professional_id: str) -> list[CaseDeadline]:
    """The professional's cases' deadlines not met yet, by date (one query for the cases, one for
    their appointments)."""
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.state.in_(OPEN_STATES))
            .where(or_(Case.conseiller_id == professional_id, Case.referent_social_id == professional_id))
        )
    )
    booked = appointments_by_case(session, [c.id for c in cases])
    day = today(ctx.clock)
    found = []
    for case in cases:
        terms, _ = ctx.terms(session, case, day)
        found += [
            CaseDeadline(case.reference, d) for d in deadlines_of(case, terms, booked[case.id]) if not d.met
        ]
    return sorted(found, key=lambda f: (f.deadline.due, f.case_reference))
