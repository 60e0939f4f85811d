"""Events that carry a decision of the binôme on a case: its assignment, consent, diagnostic,
contract, renewal and exit (seeds 000/001 art. 3.2-3.5)."""

from __future__ import annotations

from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.actors import professional
from workflow.application.handlers.common import apply_trigger, decision_day, known_case
from workflow.application.service_context import Context
from workflow.domain.clock import paris_date
from workflow.domain.events import (
    BinomeAssigned,
    ConsentRecorded,
    ContractSigned,
    DiagnosticDone,
    ExitDecided,
    RenewalDecided,
)
from workflow.domain.lifecycle import (
    AFFECTER_BINOME,
    POSER_DIAGNOSTIC,
    RECUEILLIR_ADHESION,
    RENOUVELER,
    SIGNER_CONTRAT,
    SORTIR,
)
from workflow.domain.vocabulary import Role


def binome_assigned(uow: UnitOfWork, ctx: Context, ev: BinomeAssigned) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    professional(uow, ev.conseiller_id, Role.CONSEILLER, "le conseiller")
    professional(uow, ev.referent_social_id, Role.REFERENT_SOCIAL, "le référent social")
    on = decision_day(case, paris_date(ev.occurred_at))
    msg = apply_trigger(
        uow, ctx, case, AFFECTER_BINOME, ev, on,
        conseiller_id=ev.conseiller_id, referent_social_id=ev.referent_social_id,
    )  # fmt: skip
    return case.reference, msg


def consent_recorded(uow: UnitOfWork, ctx: Context, ev: ConsentRecorded) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    on = decision_day(case, paris_date(ev.occurred_at))
    return case.reference, apply_trigger(uow, ctx, case, RECUEILLIR_ADHESION, ev, on, consent=ev.consent)


def diagnostic_done(uow: UnitOfWork, ctx: Context, ev: DiagnosticDone) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    on = decision_day(case, paris_date(ev.occurred_at))
    msg = apply_trigger(
        uow, ctx, case, POSER_DIAGNOSTIC, ev, on,
        diagnostic_kind=ev.kind,
        conseiller_opinion=ev.conseiller_opinion,
        referent_opinion=ev.referent_opinion,
        barriers=tuple(ev.barriers.codes()) if ev.barriers is not None else None,
    )  # fmt: skip
    return case.reference, msg


def contract_signed(uow: UnitOfWork, ctx: Context, ev: ContractSigned) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    on = decision_day(case, paris_date(ev.occurred_at), ev.signed_on)
    msg = apply_trigger(uow, ctx, case, SIGNER_CONTRAT, ev, on, referent_social_id=ev.referent_social_id)
    return case.reference, msg


def renewal_decided(uow: UnitOfWork, ctx: Context, ev: RenewalDecided) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    on = decision_day(case, paris_date(ev.occurred_at))
    msg = apply_trigger(
        uow, ctx, case, RENOUVELER, ev, on,
        renewal_by=ev.decided_by,
        conseiller_opinion=ev.conseiller_opinion,
        referent_opinion=ev.referent_opinion,
        renewal_months=ev.months,
    )  # fmt: skip
    return case.reference, msg


def exit_decided(uow: UnitOfWork, ctx: Context, ev: ExitDecided) -> tuple[str, str]:
    case = known_case(uow, ev.case_ref)
    on = decision_day(case, paris_date(ev.occurred_at), ev.effective_on)
    msg = apply_trigger(uow, ctx, case, SORTIR, ev, on, exit_reason=ev.reason, ep_validated=ev.ep_validated)
    return case.reference, msg
