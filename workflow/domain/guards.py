"""Guards: named rules, each returning None when the attempt passes or the refusal reason.

A reason names the rule and the seed it comes from, because the person reading it is a
caseworker who must know what to fix, or a supervisor who must know why it was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from workflow.domain.attempt import Attempt
from workflow.domain.dates import period_end
from workflow.domain.records import CaseFields, CaseRecord
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

Guard = Callable[[CaseRecord, Attempt], str | None]


def day(value: date | None) -> str:
    """A day as people read it (`labels.day`, imported when a reason is written: the labels read
    the lifecycle, which reads these guards)."""
    from workflow.domain import labels

    return labels.day(value)


def exit_reason(code: str | None) -> str:
    from workflow.domain import labels

    return labels.word(labels.EXIT_REASONS, code)


def is_registered(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.person.registered:
        return None
    return (
        "éligibilité : la personne doit être inscrite à France Travail "
        "(convention 004 art. 2 b : « être inscrits à Pôle Emploi »)"
    )


def _barriers(case: CaseRecord, attempt: Attempt) -> set[str]:
    """The barriers the decision rests on: those the diagnostic establishes, else the case's."""
    return set(attempt.barriers if attempt.barriers is not None else case.barriers)


def has_social_and_professional_barriers(case: CaseRecord, attempt: Attempt) -> str | None:
    codes = _barriers(case, attempt)
    has_social = bool(codes & set(SocialBarrier))
    has_professional = bool(codes & set(ProfessionalBarrier))
    if has_social and has_professional:
        return None
    missing = [
        label
        for label, present in (("social", has_social), ("professionnel", has_professional))
        if not present
    ]
    return (
        f"éligibilité : il faut au moins un frein social et un frein professionnel, aucun frein "
        f"{' ni '.join(missing)} n'est relevé (convention 004 art. 2 b : « à la fois des freins "
        f"professionnels et sociaux »)"
    )


def is_other_barrier_agreed(case: CaseRecord, attempt: Attempt) -> str | None:
    if not _barriers(case, attempt) & OTHER_BARRIERS or case.other_barrier_agreed:
        return None
    return (
        "éligibilité : un frein hors de la liste demande l'accord du conseiller et du travailleur "
        "social (convention 004 art. 2 b : « décidée après échange »)"
    )


def has_consent(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.consent:
        return None
    return (
        "éligibilité : la libre adhésion de la personne n'est pas enregistrée (convention 004 art. 2 b et d)"
    )


def has_binome(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.conseiller_id and case.referent_social_id:
        return None
    return (
        "un binôme conseiller dédié + référent social doit d'abord être nommé "
        "(conventions 000/001 art. 3.2 : « un binôme … interlocuteur unique »)"
    )


def is_binome_complete(case: CaseRecord, attempt: Attempt) -> str | None:
    if attempt.conseiller_id and attempt.referent_social_id:
        return None
    return "le binôme demande un conseiller dédié et un référent social (conventions 000/001 art. 3.2)"


def has_joint_agreement(case: CaseRecord, attempt: Attempt) -> str | None:
    """Seeds 000/001 art. 3.3: orientation only if both professionals agree; seed 004 art. 2 e:
    one professional's diagnosis suffices (confiance réciproque) where the convention allows it."""
    opinions = (attempt.conseiller_opinion, attempt.referent_opinion)
    if Opinion.DEFAVORABLE in opinions:
        return (
            "accord conjoint : un des professionnels n'est pas favorable ; un désaccord se discute à "
            "la revue de portefeuille mensuelle (convention 004 art. 2 e)"
        )
    if attempt.diagnostic_kind == DiagnosticKind.CONFIANCE_RECIPROQUE:
        if not attempt.terms.confiance_reciproque:
            return (
                "accord conjoint : cette convention ne prévoit pas de diagnostic de confiance "
                "réciproque ; les deux professionnels doivent être d'accord (conventions 000/001 "
                "art. 3.3 : « conjointement d'accord »)"
            )
        if Opinion.FAVORABLE in opinions:
            return None
        return (
            "accord conjoint : un diagnostic de confiance réciproque demande l'avis favorable du "
            "professionnel qui le pose (convention 004 art. 2 e)"
        )
    if all(o == Opinion.FAVORABLE for o in opinions):
        return None
    return (
        "accord conjoint : un diagnostic partagé demande l'avis favorable du conseiller et du "
        "référent social (conventions 000/001 art. 3.3 : « conjointement d'accord »)"
    )


def is_referent_social_named(case: CaseRecord, attempt: Attempt) -> str | None:
    if attempt.referent_social_id and attempt.referent_social_id == case.referent_social_id:
        return None
    named = attempt.referent_social_id or "personne"
    return (
        f"le contrat doit nommer le référent social du dossier ({case.referent_social_id}), il nomme "
        f"{named} (conventions 000/001 art. 3.4 : « contrat … mentionnant le nom du référent social »)"
    )


def has_renewals_left(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.renewal_count < attempt.terms.max_renewals:
        return None
    return (
        f"un seul renouvellement : le contrat a déjà été renouvelé {case.renewal_count} fois "
        "(conventions 000/001 art. 3.5 : « renouvelable 1 fois » ; convention 004 art. 2 g : "
        "« une seule fois »)"
    )


def is_renewal_jointly_examined(case: CaseRecord, attempt: Attempt) -> str | None:
    if attempt.renewal_by == RenewalDecidedBy.COMMISSION:
        return None
    if attempt.renewal_by == RenewalDecidedBy.BINOME and (
        attempt.conseiller_opinion == attempt.referent_opinion == Opinion.FAVORABLE
    ):
        return None
    return (
        "un renouvellement demande l'examen conjoint des deux professionnels, tous deux favorables, "
        "ou une décision de la commission mensuelle (conventions 000/001 art. 3.5 ; convention 004 "
        "art. 2 g)"
    )


def is_within_maximum_duration(case: CaseRecord, attempt: Attempt) -> str | None:
    assert case.contract_start is not None and case.contract_end is not None
    terms = attempt.terms
    months = attempt.renewal_months or terms.renewal_months
    limit = period_end(case.contract_start, terms.max_total_months)
    new_end = renewed_end(case, attempt)
    if months <= terms.renewal_months and new_end <= limit:
        return None
    return (
        f"durée maximale : un renouvellement de {months} mois finirait le {day(new_end)}, au-delà du "
        f"maximum de {terms.max_total_months} mois ({day(limit)}) ou du renouvellement de "
        f"{terms.renewal_months} mois de cette convention (convention 004 art. 2 g : « ne pourra "
        "pas dépasser un an »)"
    )


def renewed_end(case: CaseFields, attempt: Attempt) -> date:
    """The end of the contract after this renewal, computed from the contract start."""
    assert case.contract_start is not None
    months = attempt.renewal_months or attempt.terms.renewal_months
    total = attempt.terms.first_contract_months + case.renewal_count * attempt.terms.renewal_months
    return period_end(case.contract_start, total + months)


def has_exit_reason(case: CaseRecord, attempt: Attempt) -> str | None:
    if attempt.exit_reason is not None:
        return None
    return "une sortie demande toujours un motif de la liste fermée (conventions 000/001 art. 3.5)"


def is_exit_reason_fitting(case: CaseRecord, attempt: Attempt) -> str | None:
    reason = attempt.exit_reason
    entered = case.contract_start is not None
    if reason in NO_ENTRY_REASONS and entered:
        return (
            f"le motif de sortie « {exit_reason(reason)} » veut dire « sans entrée », mais le "
            f"contrat a été signé le {day(case.contract_start)}"
        )
    if reason in AFTER_ENTRY_ONLY_REASONS:
        if not entered:
            return f"le motif de sortie « {exit_reason(reason)} » demande un contrat signé"
        assert case.contract_end is not None
        if attempt.on <= case.contract_end:
            return (
                f"motif de sortie « {exit_reason(reason)} » : le contrat court jusqu'au "
                f"{day(case.contract_end)} ; la durée maximale n'est pas atteinte (convention 004 art. 2 g)"
            )
    return None


def is_social_reorientation_validated(case: CaseRecord, attempt: Attempt) -> str | None:
    if (
        attempt.exit_reason != ExitReason.REORIENTATION_SOCIALE
        or case.person.status != PersonStatus.BRSA
        or not attempt.terms.social_reorientation_needs_ep
        or attempt.ep_validated
    ):
        return None
    return (
        "la réorientation sociale d'un bénéficiaire du RSA doit être validée par l'équipe "
        "pluridisciplinaire (convention 002 axe 3)"
    )


_ACTED = (
    "« Les entrées, renouvellements et sorties du dispositif sont actés lors des revues de portefeuille »"
)


def is_taken_at_a_revue(case: CaseRecord, attempt: Attempt) -> str | None:
    if attempt.revue_id is not None:
        return None
    return (
        "les entrées et les sorties sont actées à la revue de portefeuille mensuelle "
        f"(convention 004 art. 2 d : {_ACTED})"
    )


def has_signed_contract(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.contract_start is not None:
        return None
    return "le dossier s'est terminé sans entrée : aucun contrat n'a été signé, il n'y a pas d'entrée à acter"


def is_entry_not_acted_yet(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.entry_acted_on is None:
        return None
    return f"l'entrée a déjà été actée le {day(case.entry_acted_on)}"


def is_exit_not_acted_yet(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.exit_acted_on is None:
        return None
    return f"la sortie a déjà été actée le {day(case.exit_acted_on)}"


def has_contract_run_out(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.contract_end is not None and attempt.on > case.contract_end:
        return None
    return f"le contrat court jusqu'au {day(case.contract_end)} : il n'est pas échu"


def is_not_flagged_yet(case: CaseRecord, attempt: Attempt) -> str | None:
    if case.revue_flag is None:
        return None
    return f"déjà signalé pour la revue le {day(case.revue_flagged_on)}"
