"""Guards: named rules, each returning None when the attempt passes or the refusal reason.

A reason names the rule and the seed it comes from, because the person reading it is a
caseworker who must know what to fix, or a supervisor who must know why it was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from models import Case
from workflow.domain.dates import period_end
from workflow.domain.decision import Attempt
from workflow.domain.vocabulary import (
    AFTER_ENTRY_ONLY_REASONS,
    NO_ENTRY_REASONS,
    OTHER_BARRIERS,
    DiagnosticKind,
    ExitReason,
    Opinion,
    PersonStatus,
    ProfessionalBarrier,
    RenewalDecidedBy,
    SocialBarrier,
)

Guard = Callable[[Case, Attempt], str | None]


def person_registered(case: Case, attempt: Attempt) -> str | None:
    if case.person.registered:
        return None
    return (
        "eligibility: the person must be registered at France Travail "
        "(seed 004 art. 2 b: « être inscrits à Pôle Emploi »)"
    )


def _barriers(case: Case, attempt: Attempt) -> set[str]:
    """The barriers the decision rests on: those the diagnostic establishes, else the case's."""
    return set(attempt.barriers if attempt.barriers is not None else case.barriers)


def social_and_professional_barriers(case: Case, attempt: Attempt) -> str | None:
    codes = _barriers(case, attempt)
    has_social = bool(codes & set(SocialBarrier))
    has_professional = bool(codes & set(ProfessionalBarrier))
    if has_social and has_professional:
        return None
    missing = [
        label
        for label, present in (("social", has_social), ("professional", has_professional))
        if not present
    ]
    return (
        f"eligibility: at least one social and one professional barrier are needed, no "
        f"{' and no '.join(missing)} barrier recorded (seed 004 art. 2 b: « à la fois des freins "
        f"professionnels et sociaux »)"
    )


def other_barrier_agreed(case: Case, attempt: Attempt) -> str | None:
    if not _barriers(case, attempt) & OTHER_BARRIERS or case.other_barrier_agreed:
        return None
    return (
        "eligibility: a barrier outside the listed ones needs the agreement of the conseiller and "
        "the travailleur social (seed 004 art. 2 b: « décidée après échange »)"
    )


def consent_given(case: Case, attempt: Attempt) -> str | None:
    if case.consent:
        return None
    return "eligibility: the person's free consent (libre adhésion) is not recorded (seed 004 art. 2 b and d)"


def binome_assigned(case: Case, attempt: Attempt) -> str | None:
    if case.conseiller_id and case.referent_social_id:
        return None
    return (
        "a binôme conseiller dédié + référent social must be assigned first "
        "(seeds 000/001 art. 3.2: « un binôme … interlocuteur unique »)"
    )


def binome_complete(case: Case, attempt: Attempt) -> str | None:
    if attempt.conseiller_id and attempt.referent_social_id:
        return None
    return "the binôme needs both a conseiller dédié and a référent social (seeds 000/001 art. 3.2)"


def joint_agreement(case: Case, attempt: Attempt) -> str | None:
    """Seeds 000/001 art. 3.3: orientation only if both professionals agree; seed 004 art. 2 e:
    one professional's diagnosis suffices (confiance réciproque) where the convention allows it."""
    opinions = (attempt.conseiller_opinion, attempt.referent_opinion)
    if Opinion.DEFAVORABLE in opinions:
        return (
            "joint agreement: one professional is not in favour; a disagreement is debated at the "
            "monthly revue de portefeuille (seed 004 art. 2 e)"
        )
    if attempt.diagnostic_kind == DiagnosticKind.CONFIANCE_RECIPROQUE:
        if not attempt.terms.confiance_reciproque:
            return (
                "joint agreement: this convention has no diagnostic de confiance réciproque; both "
                "professionals must agree (seeds 000/001 art. 3.3: « conjointement d'accord »)"
            )
        if Opinion.FAVORABLE in opinions:
            return None
        return (
            "joint agreement: a confiance réciproque diagnostic needs the diagnosing professional's "
            "favourable opinion (seed 004 art. 2 e)"
        )
    if all(o == Opinion.FAVORABLE for o in opinions):
        return None
    return (
        "joint agreement: a diagnostic partagé needs the favourable opinion of both the conseiller "
        "and the référent social (seeds 000/001 art. 3.3: « conjointement d'accord »)"
    )


def contract_names_referent_social(case: Case, attempt: Attempt) -> str | None:
    if attempt.referent_social_id and attempt.referent_social_id == case.referent_social_id:
        return None
    named = attempt.referent_social_id or "nobody"
    return (
        f"the contract must name the case's référent social ({case.referent_social_id}), it names "
        f"{named} (seeds 000/001 art. 3.4: « contrat … mentionnant le nom du référent social »)"
    )


def renewals_left(case: Case, attempt: Attempt) -> str | None:
    if case.renewal_count < attempt.terms.max_renewals:
        return None
    return (
        f"one renewal only: the contract was already renewed {case.renewal_count} time(s) "
        "(seeds 000/001 art. 3.5: « renouvelable 1 fois »; seed 004 art. 2 g: « une seule fois »)"
    )


def renewal_jointly_examined(case: Case, attempt: Attempt) -> str | None:
    if attempt.renewal_by == RenewalDecidedBy.COMMISSION:
        return None
    if attempt.renewal_by == RenewalDecidedBy.BINOME and (
        attempt.conseiller_opinion == attempt.referent_opinion == Opinion.FAVORABLE
    ):
        return None
    return (
        "a renewal needs the joint examination of both professionals, both favourable, or a "
        "decision of the monthly commission (seeds 000/001 art. 3.5; seed 004 art. 2 g)"
    )


def within_maximum_duration(case: Case, attempt: Attempt) -> str | None:
    assert case.contract_start is not None and case.contract_end is not None
    terms = attempt.terms
    months = attempt.renewal_months or terms.renewal_months
    limit = period_end(case.contract_start, terms.max_total_months)
    new_end = renewed_end(case, attempt)
    if months <= terms.renewal_months and new_end <= limit:
        return None
    return (
        f"maximum duration: a renewal of {months} month(s) would end on {new_end.isoformat()}, past "
        f"the {terms.max_total_months}-month maximum ({limit.isoformat()}) or the "
        f"{terms.renewal_months}-month renewal of this convention (seed 004 art. 2 g: « ne pourra "
        "pas dépasser un an »)"
    )


def renewed_end(case: Case, attempt: Attempt) -> date:
    """The end of the contract after this renewal, computed from the contract start."""
    assert case.contract_start is not None
    months = attempt.renewal_months or attempt.terms.renewal_months
    total = attempt.terms.first_contract_months + case.renewal_count * attempt.terms.renewal_months
    return period_end(case.contract_start, total + months)


def exit_reason_given(case: Case, attempt: Attempt) -> str | None:
    if attempt.exit_reason is not None:
        return None
    return "an exit always needs a reason from the closed list (seeds 000/001 art. 3.5)"


def exit_reason_fits_state(case: Case, attempt: Attempt) -> str | None:
    reason = attempt.exit_reason
    entered = case.contract_start is not None
    if reason in NO_ENTRY_REASONS and entered:
        return (
            f"exit reason {reason} means « sans entrée », but the contract was signed on "
            f"{case.contract_start}"
        )
    if reason in AFTER_ENTRY_ONLY_REASONS:
        if not entered:
            return f"exit reason {reason} needs a signed contract"
        assert case.contract_end is not None
        if attempt.on <= case.contract_end:
            return (
                f"exit reason {reason}: the contract runs until {case.contract_end.isoformat()}; the "
                "maximum duration is not reached (seed 004 art. 2 g)"
            )
    return None


def social_reorientation_validated(case: Case, attempt: Attempt) -> str | None:
    if (
        attempt.exit_reason != ExitReason.REORIENTATION_SOCIALE
        or case.person.status != PersonStatus.BRSA
        or not attempt.terms.social_reorientation_needs_ep
        or attempt.ep_validated
    ):
        return None
    return (
        "a social reorientation of a BRSA must be validated by the équipe pluridisciplinaire (seed 002 axe 3)"
    )


_ACTED = (
    "« Les entrées, renouvellements et sorties du dispositif sont actés lors des revues de portefeuille »"
)


def taken_at_a_revue(case: Case, attempt: Attempt) -> str | None:
    if attempt.revue_id is not None:
        return None
    return f"entries and exits are acted at the monthly revue de portefeuille (seed 004 art. 2 d: {_ACTED})"


def contract_signed(case: Case, attempt: Attempt) -> str | None:
    if case.contract_start is not None:
        return None
    return "the case ended without entry: no contract was signed, so there is no entry to act"


def entry_not_acted(case: Case, attempt: Attempt) -> str | None:
    if case.entry_acted_on is None:
        return None
    return f"the entry was already acted on {case.entry_acted_on.isoformat()}"


def exit_not_acted(case: Case, attempt: Attempt) -> str | None:
    if case.exit_acted_on is None:
        return None
    return f"the exit was already acted on {case.exit_acted_on.isoformat()}"


def contract_ran_out(case: Case, attempt: Attempt) -> str | None:
    if case.contract_end is not None and attempt.on > case.contract_end:
        return None
    return f"the contract runs until {case.contract_end}: it has not run out"


def not_flagged(case: Case, attempt: Attempt) -> str | None:
    if case.revue_flag is None:
        return None
    return f"already flagged for the revue on {case.revue_flagged_on}"
