"""Each guard: passes on a good case, and refuses with a message naming its rule and seed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from models import Case, Person
from workflow.adapters.convention_files import load_book
from workflow.domain import guards
from workflow.domain.attempt import Actor, Attempt
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, Opinion, RenewalDecidedBy, Role

BOOK = load_book()


def make_case(**overrides: Any) -> Case:
    values: dict[str, Any] = {
        "reference": "AG-T",
        "state": "reperage",
        "barriers": ["logement", "mobilite"],
        "consent": True,
        "other_barrier_agreed": False,
        "conseiller_id": "C67",
        "referent_social_id": "R67",
        "renewal_count": 0,
        "orientation_date": date(2026, 1, 5),
    }
    person = Person(registered=overrides.pop("registered", True), status=overrides.pop("status", "BRSA"))
    values.update(overrides)
    return Case(person=person, **values)


def make_attempt(departement: str = "67", **fields: Any) -> Attempt:
    terms = BOOK.in_force(departement, date(2026, 1, 5)).terms
    values: dict[str, Any] = {
        "actor": Actor("C67", Role.CONSEILLER),
        "occurred_at": datetime(2026, 1, 20, 9, tzinfo=UTC),
        "on": date(2026, 1, 20),
        "terms": terms,
        "convention_version_id": 1,
    }
    values.update(fields)
    return Attempt(**values)


GOOD_DIAGNOSTIC = {
    "diagnostic_kind": DiagnosticKind.PARTAGE,
    "conseiller_opinion": Opinion.FAVORABLE,
    "referent_opinion": Opinion.FAVORABLE,
}

UNDER_CONTRACT = {"state": "contrat", "contract_start": date(2026, 1, 15), "contract_end": date(2026, 7, 14)}

REFUSALS = [
    ("is_registered", {"registered": False}, {}, "inscrite à France Travail (convention 004 art. 2 b"),
    ("has_social_and_professional_barriers", {"barriers": ["mobilite"]}, {}, "aucun frein social n'est"),
    ("has_social_and_professional_barriers", {"barriers": ["sante"]}, {}, "aucun frein professionnel n'est"),
    ("has_social_and_professional_barriers", {"barriers": []}, {}, "aucun frein social ni professionnel"),
    ("is_other_barrier_agreed", {"barriers": ["autre_social", "mobilite"]}, {}, "« décidée après échange »"),
    ("has_consent", {"consent": False}, {}, "libre adhésion"),
    ("has_binome", {"referent_social_id": None}, {}, "binôme conseiller dédié + référent social"),
    ("is_binome_complete", {}, {"conseiller_id": "C67"}, "un conseiller dédié et un référent social"),
    (
        "has_joint_agreement",
        {},
        {**GOOD_DIAGNOSTIC, "referent_opinion": Opinion.DEFAVORABLE},
        "se discute à la revue de portefeuille mensuelle (convention 004 art. 2 e)",
    ),
    (
        "has_joint_agreement",
        {},
        {**GOOD_DIAGNOSTIC, "referent_opinion": None},
        "l'avis favorable du conseiller et du référent social",
    ),
    (
        "is_referent_social_named",
        {"state": "diagnostic"},
        {"referent_social_id": "R67B"},
        "doit nommer le référent social du dossier (R67), il nomme R67B",
    ),
    ("has_renewals_left", {**UNDER_CONTRACT, "renewal_count": 1}, {}, "un seul renouvellement"),
    (
        "is_renewal_jointly_examined",
        UNDER_CONTRACT,
        {"renewal_by": RenewalDecidedBy.BINOME, "conseiller_opinion": Opinion.FAVORABLE},
        "l'examen conjoint des deux professionnels",
    ),
    (
        "is_within_maximum_duration",
        UNDER_CONTRACT,
        {"renewal_months": 7},
        "finirait le 14/02/2027, au-delà du maximum de 12 mois (14/01/2027)",
    ),
    ("has_exit_reason", {}, {}, "demande toujours un motif de la liste fermée"),
    (
        "is_exit_reason_fitting",
        UNDER_CONTRACT,
        {"exit_reason": ExitReason.SANS_ENTREE_REFUS},
        "veut dire « sans entrée », mais le contrat a été signé le 15/01/2026",
    ),
    ("is_exit_reason_fitting", {}, {"exit_reason": ExitReason.DUREE_MAXIMALE}, "demande un contrat signé"),
    (
        "is_exit_reason_fitting",
        UNDER_CONTRACT,
        {"exit_reason": ExitReason.DUREE_MAXIMALE},
        "le contrat court jusqu'au 14/07/2026 ; la durée maximale n'est pas atteinte",
    ),
]


# Two refusals follow from the words of the exit reasons, not from a convention's article.
NOT_FROM_A_CONVENTION = {
    "veut dire « sans entrée », mais le contrat a été signé le 15/01/2026",
    "demande un contrat signé",
}


@pytest.mark.parametrize(("name", "case_fields", "attempt_fields", "message"), REFUSALS)
def test_guard_refuses_with_its_rule(
    name: str, case_fields: dict[str, Any], attempt_fields: dict[str, Any], message: str
) -> None:
    guard = getattr(guards, name)
    reason = guard(make_case(**case_fields), make_attempt(**attempt_fields))
    assert reason is not None and message in reason
    # Each refusal names the convention article it applies.
    assert ("convention" in reason) == (message not in NOT_FROM_A_CONVENTION), reason


def test_confiance_reciproque_is_refused_where_the_convention_has_none() -> None:
    attempt = make_attempt(
        "35", diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE, conseiller_opinion=Opinion.FAVORABLE
    )
    reason = guards.has_joint_agreement(make_case(), attempt)
    assert reason is not None and "pas de diagnostic de confiance réciproque" in reason


def test_confiance_reciproque_needs_one_favourable_opinion_in_bas_rhin() -> None:
    one = make_attempt(
        diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE, referent_opinion=Opinion.FAVORABLE
    )
    none = make_attempt(diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE)
    assert guards.has_joint_agreement(make_case(), one) is None
    reason = guards.has_joint_agreement(make_case(), none)
    assert reason is not None and "l'avis favorable du professionnel qui le pose" in reason


def test_social_reorientation_of_a_brsa_needs_the_equipe_pluridisciplinaire_in_tarn_et_garonne() -> None:
    case = make_case(**UNDER_CONTRACT)
    attempt = make_attempt("82", exit_reason=ExitReason.REORIENTATION_SOCIALE)
    reason = guards.is_social_reorientation_validated(case, attempt)
    assert reason is not None and "équipe pluridisciplinaire (convention 002 axe 3)" in reason
    validated = make_attempt("82", exit_reason=ExitReason.REORIENTATION_SOCIALE, ep_validated=True)
    assert guards.is_social_reorientation_validated(case, validated) is None
    assert (
        guards.is_social_reorientation_validated(make_case(status="ARE", **UNDER_CONTRACT), attempt) is None
    )
    assert (
        guards.is_social_reorientation_validated(
            case, make_attempt("67", exit_reason=ExitReason.REORIENTATION_SOCIALE)
        )
        is None
    )


def test_every_guard_passes_a_good_attempt() -> None:
    case = make_case(**UNDER_CONTRACT)
    good = make_attempt(
        **GOOD_DIAGNOSTIC,
        conseiller_id="C67",
        referent_social_id="R67",
        renewal_by=RenewalDecidedBy.BINOME,
        exit_reason=ExitReason.EMPLOI,
    )
    for name in {r[0] for r in REFUSALS}:
        assert getattr(guards, name)(case, good) is None, name


def test_an_other_barrier_passes_once_both_professionals_agreed() -> None:
    case = make_case(barriers=["autre_social", "mobilite"], other_barrier_agreed=True)
    assert guards.is_other_barrier_agreed(case, make_attempt()) is None
