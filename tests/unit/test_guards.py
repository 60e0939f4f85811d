"""Each guard: passes on a good case, and refuses with a message naming its rule and seed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from models import Case, Person
from workflow.domain import guards as g
from workflow.domain.conventions import load_book
from workflow.domain.decision import Actor, Attempt
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
    ("person_registered", {"registered": False}, {}, "registered at France Travail (seed 004 art. 2 b"),
    ("social_and_professional_barriers", {"barriers": ["mobilite"]}, {}, "no social barrier"),
    ("social_and_professional_barriers", {"barriers": ["sante"]}, {}, "no professional barrier"),
    ("social_and_professional_barriers", {"barriers": []}, {}, "no social and no professional barrier"),
    ("other_barrier_agreed", {"barriers": ["autre_social", "mobilite"]}, {}, "« décidée après échange »"),
    ("consent_given", {"consent": False}, {}, "libre adhésion"),
    ("binome_assigned", {"referent_social_id": None}, {}, "binôme conseiller dédié + référent social"),
    ("binome_complete", {}, {"conseiller_id": "C67"}, "both a conseiller dédié and a référent social"),
    (
        "joint_agreement",
        {},
        {**GOOD_DIAGNOSTIC, "referent_opinion": Opinion.DEFAVORABLE},
        "debated at the monthly revue de portefeuille (seed 004 art. 2 e)",
    ),
    (
        "joint_agreement",
        {},
        {**GOOD_DIAGNOSTIC, "referent_opinion": None},
        "favourable opinion of both the conseiller and the référent social",
    ),
    (
        "contract_names_referent_social",
        {"state": "diagnostic"},
        {"referent_social_id": "R67B"},
        "must name the case's référent social (R67), it names R67B",
    ),
    ("renewals_left", {**UNDER_CONTRACT, "renewal_count": 1}, {}, "one renewal only"),
    (
        "renewal_jointly_examined",
        UNDER_CONTRACT,
        {"renewal_by": RenewalDecidedBy.BINOME, "conseiller_opinion": Opinion.FAVORABLE},
        "joint examination of both professionals",
    ),
    (
        "within_maximum_duration",
        UNDER_CONTRACT,
        {"renewal_months": 7},
        "would end on 2027-02-14, past the 12-month maximum (2027-01-14)",
    ),
    ("exit_reason_given", {}, {}, "needs a reason from the closed list"),
    (
        "exit_reason_fits_state",
        UNDER_CONTRACT,
        {"exit_reason": ExitReason.SANS_ENTREE_REFUS},
        "means « sans entrée », but the contract was signed on 2026-01-15",
    ),
    ("exit_reason_fits_state", {}, {"exit_reason": ExitReason.DUREE_MAXIMALE}, "needs a signed contract"),
    (
        "exit_reason_fits_state",
        UNDER_CONTRACT,
        {"exit_reason": ExitReason.DUREE_MAXIMALE},
        "the contract runs until 2026-07-14; the maximum duration is not reached",
    ),
]


@pytest.mark.parametrize(("name", "case_fields", "attempt_fields", "message"), REFUSALS)
def test_guard_refuses_with_its_rule(
    name: str, case_fields: dict[str, Any], attempt_fields: dict[str, Any], message: str
) -> None:
    guard = getattr(g, name)
    reason = guard(make_case(**case_fields), make_attempt(**attempt_fields))
    assert reason is not None and message in reason
    assert "seed" in reason or name.startswith("exit_reason_fits")


def test_confiance_reciproque_is_refused_where_the_convention_has_none() -> None:
    attempt = make_attempt(
        "35", diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE, conseiller_opinion=Opinion.FAVORABLE
    )
    reason = g.joint_agreement(make_case(), attempt)
    assert reason is not None and "no diagnostic de confiance réciproque" in reason


def test_confiance_reciproque_needs_one_favourable_opinion_in_bas_rhin() -> None:
    one = make_attempt(
        diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE, referent_opinion=Opinion.FAVORABLE
    )
    none = make_attempt(diagnostic_kind=DiagnosticKind.CONFIANCE_RECIPROQUE)
    assert g.joint_agreement(make_case(), one) is None
    reason = g.joint_agreement(make_case(), none)
    assert reason is not None and "diagnosing professional's favourable opinion" in reason


def test_social_reorientation_of_a_brsa_needs_the_equipe_pluridisciplinaire_in_tarn_et_garonne() -> None:
    case = make_case(**UNDER_CONTRACT)
    attempt = make_attempt("82", exit_reason=ExitReason.REORIENTATION_SOCIALE)
    reason = g.social_reorientation_validated(case, attempt)
    assert reason is not None and "équipe pluridisciplinaire (seed 002 axe 3)" in reason
    validated = make_attempt("82", exit_reason=ExitReason.REORIENTATION_SOCIALE, ep_validated=True)
    assert g.social_reorientation_validated(case, validated) is None
    assert g.social_reorientation_validated(make_case(status="ARE", **UNDER_CONTRACT), attempt) is None
    assert (
        g.social_reorientation_validated(
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
        assert getattr(g, name)(case, good) is None, name


def test_an_other_barrier_passes_once_both_professionals_agreed() -> None:
    case = make_case(barriers=["autre_social", "mobilite"], other_barrier_agreed=True)
    assert g.other_barrier_agreed(case, make_attempt()) is None
