"""The machine as `transitions` means it: guards are bool conditions, a refusal names every
failing guard, `reasons_against` answers without firing, and "premature" is decided on purpose."""

from __future__ import annotations

import pytest

from tests.unit.test_guards import GOOD_DIAGNOSTIC, UNDER_CONTRACT, make_attempt, make_case
from workflow.domain.errors import TransitionRefused
from workflow.domain.lifecycle import POSER_DIAGNOSTIC, SIGNER_CONTRAT, State, fire, reasons_against
from workflow.domain.vocabulary import Opinion


def test_a_refused_diagnostic_names_everything_that_is_missing() -> None:
    case = make_case(consent=False, referent_social_id=None, registered=False)
    attempt = make_attempt(**{**GOOD_DIAGNOSTIC, "referent_opinion": Opinion.DEFAVORABLE})

    with pytest.raises(TransitionRefused) as refused:
        fire(case, POSER_DIAGNOSTIC, attempt)

    reasons = refused.value.reasons
    assert len(reasons) == 4
    for rule in ("inscrite à France Travail", "libre adhésion", "binôme", "accord conjoint"):
        assert sum(rule in reason for reason in reasons) == 1, rule
    assert all(reason in str(refused.value) for reason in reasons)
    assert case.state == State.REPERAGE and case.diagnostic_kind is None
    assert not refused.value.premature  # a guard's refusal says what to fix: waiting cures nothing


def test_refusals_answer_the_may_question_without_firing() -> None:
    missing = make_case(consent=False)
    assert len(reasons_against(missing, POSER_DIAGNOSTIC, make_attempt(**GOOD_DIAGNOSTIC))) == 1
    assert missing.state == State.REPERAGE

    ready = make_case()
    assert reasons_against(ready, POSER_DIAGNOSTIC, make_attempt(**GOOD_DIAGNOSTIC)) == []
    assert ready.state == State.REPERAGE and ready.diagnostic_kind is None  # nothing fired

    [why] = reasons_against(make_case(), SIGNER_CONTRAT, make_attempt(referent_social_id="R67"))
    assert why.startswith("possible seulement depuis : Diagnostic partagé")


def test_a_trigger_too_early_on_an_open_case_is_premature() -> None:
    with pytest.raises(TransitionRefused) as refused:
        fire(make_case(), SIGNER_CONTRAT, make_attempt(referent_social_id="R67"))
    assert refused.value.premature  # the diagnostic may still be on its way


def test_a_trigger_on_a_closed_case_is_final_not_premature() -> None:
    closed = make_case(**{**UNDER_CONTRACT, "state": "sortie"})
    with pytest.raises(TransitionRefused) as refused:
        fire(closed, SIGNER_CONTRAT, make_attempt(referent_social_id="R67"))
    assert not refused.value.premature  # no later event reopens a case: waiting cures nothing
    assert "dans l'état « Sortie » : possible seulement depuis" in str(refused.value)
