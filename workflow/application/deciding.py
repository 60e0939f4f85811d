"""The one decision path: every change of a case, its opening included, lands here.

Whether it comes from an event, a revue de portefeuille or a test, a decision checks the
actor's permission, fires the trigger on the case's machine, moves the case's next reminder
day and appends the log row, in the caller's transaction: the four land together or not at all.
The row keeps what the decision was given, so that the log alone rebuilds the case
(`workflow.domain.log_replay`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from models import Case
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.audit import chain
from workflow.application.reminders import planning
from workflow.application.service_context import Context
from workflow.domain.attempt import Actor, Attempt
from workflow.domain.conventions import Convention
from workflow.domain.lifecycle import ORIENTER, fire
from workflow.domain.log_replay import logged_attempt, opening
from workflow.domain.permissions import check_member, check_trigger
from workflow.domain.reminder_rules import Planned, planned
from workflow.domain.vocabulary import RenewalDecidedBy, Role


def decide(
    uow: UnitOfWork,
    ctx: Context,
    case: Case,
    trigger: str,
    *,
    actor: Actor,
    occurred_at: datetime,
    on: date,
    event_id: str | None = None,
    **fields: Any,
) -> str:
    """Fire a trigger on a case and append its log row; return the row's hash.

    Raises TransitionRefused (every failing guard's reason in one refusal) or Forbidden,
    leaving the case untouched.
    """
    terms, version_id = ctx.terms(uow.session, case, on)
    attempt = Attempt(
        actor=actor,
        occurred_at=occurred_at,
        on=on,
        terms=terms,
        convention_version_id=version_id,
        event_id=event_id,
        **fields,
    )
    check_trigger(actor, trigger, attempt.exit_reason)
    collegial = attempt.revue_id is not None or attempt.renewal_by == RenewalDecidedBy.COMMISSION
    check_member(actor, trigger, case, (attempt.conseiller_id, attempt.referent_social_id),
                 collegial=collegial, of_agency=lambda: _of_agency(uow, actor, case))  # fmt: skip
    from_state = case.state
    before = planned(case, terms)
    details = fire(case, trigger, attempt)
    if attempt.revue_id is not None:
        details["revue_id"] = attempt.revue_id
    details["attempt"] = logged_attempt(attempt)  # the log alone rebuilds the case (log_replay)
    case.updated_at = ctx.clock.now()
    return _record(
        uow, ctx, case, trigger, from_state, actor, occurred_at, event_id, (before, planned(case, terms)),
        reason=str(attempt.exit_reason) if attempt.exit_reason else None, details=details,
    )  # fmt: skip


def _of_agency(uow: UnitOfWork, actor: Actor, case: Case) -> bool:
    """Whether the actor takes part in the revue of the case's agency (seed 004 art. 5.2): a
    conseiller of the agency, or the référent social of one of its open cases."""
    if actor.role == Role.CONSEILLER:
        pro = uow.professionals.get(actor.id)
        return pro is not None and pro.agence == case.agence
    if actor.role == Role.REFERENT_SOCIAL:
        return uow.cases.referent_social_in_agency(case.agence, actor.id)
    return False


def open_case(
    uow: UnitOfWork,
    ctx: Context,
    *,
    actor: Actor,
    occurred_at: datetime,
    event_id: str | None,
    convention: Convention,
    details: dict[str, Any],
    build: Callable[[], Case],
) -> Case:
    """Open a case in repérage: the first row of its chain, under ORIENTER.

    Not a move of the machine (there is no state before repérage), but the same checks and
    the same record as `decide`. `build` makes the case (and updates its person) only once the
    actor may open it, so that a refusal changes nothing.
    """
    check_trigger(actor, ORIENTER)
    case = build()
    details = {**details, "opened": opening(case)}
    uow.cases.add(case)
    _record(
        uow, ctx, case, ORIENTER, None, actor, occurred_at, event_id,
        (frozenset(), planned(case, convention.terms)), reason=None, details=details,
    )  # fmt: skip
    return case


def _record(
    uow: UnitOfWork,
    ctx: Context,
    case: Case,
    trigger: str,
    from_state: str | None,
    actor: Actor,
    occurred_at: datetime,
    event_id: str | None,
    reminders: tuple[frozenset[Planned], frozenset[Planned]],
    *,
    reason: str | None,
    details: dict[str, Any],
) -> str:
    """What every decision leaves: the next reminder day in step with the case, and the log row."""
    planning.sync(case, *reminders)
    return chain.append(
        uow,
        case,
        trigger=trigger,
        from_state=from_state,
        actor=actor,
        occurred_at=occurred_at,
        recorded_at=ctx.clock.now(),
        event_id=event_id,
        reason=reason,
        details=details,
    )
