"""Every (trigger, source state) pair, as les-emplois tests its job application transitions:
allowed pairs reach their target and log exactly one chained row; the others raise and log
nothing. The convention is widened to two renewals over 18 months so that every pair the
table allows is reachable; the real one-renewal rule has its own tests."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models import Case
from tests.conftest import Harness, make_harness
from tests.factories import Story, at
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.audit import chain
from workflow.application.deciding import decide
from workflow.domain import labels
from workflow.domain.attempt import Actor
from workflow.domain.errors import TransitionRefused
from workflow.domain.lifecycle import (
    ACTER_ENTREE,
    ACTER_SORTIE,
    AFFECTER_BINOME,
    MOVES,
    POSER_DIAGNOSTIC,
    RECUEILLIR_ADHESION,
    RENOUVELER,
    SIGNALER_ECHU,
    SIGNER_CONTRAT,
    SORTIR,
    TRIGGERS,
    State,
)
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, Opinion, RenewalDecidedBy, Role

TWO_RENEWALS = """
[[convention]]
code = "67"
version = "2021"
name = "Bas-Rhin, widened for the exhaustive test"
effective_from = 2021-01-01
max_renewals = 2
max_total_months = 18
"""

VALID_FIELDS: dict[str, dict[str, Any]] = {
    AFFECTER_BINOME: {"conseiller_id": "C67B", "referent_social_id": "R67B"},
    RECUEILLIR_ADHESION: {"consent": True},
    POSER_DIAGNOSTIC: {
        "diagnostic_kind": DiagnosticKind.PARTAGE,
        "conseiller_opinion": Opinion.FAVORABLE,
        "referent_opinion": Opinion.FAVORABLE,
    },
    SIGNER_CONTRAT: {"referent_social_id": "R67"},
    RENOUVELER: {
        "renewal_by": RenewalDecidedBy.BINOME,
        "conseiller_opinion": Opinion.FAVORABLE,
        "referent_opinion": Opinion.FAVORABLE,
    },
    SORTIR: {"exit_reason": ExitReason.FIN_EXPLICITE},
    ACTER_ENTREE: {"revue_id": 1},
    ACTER_SORTIE: {"revue_id": 1},
    SIGNALER_ECHU: {},
}
# The daily scan flags a contract that ran out, as the system actor, the day after its end.
ACTORS = {SIGNALER_ECHU: Actor("systeme", Role.SYSTEME)}

PAIRS = [(trigger, state) for trigger in TRIGGERS for state in State]
ALLOWED = {(m.trigger, s) for m in MOVES.values() for s in m.sources}


def story_in(state: State) -> tuple[Story, list[dict[str, Any]]]:
    story = Story()
    events = [story.orientation(), story.binome()]
    if state != State.REPERAGE:
        events.append(story.diagnostic())
    if state in (State.CONTRAT, State.RENOUVELLEMENT, State.SORTIE):
        events.append(story.contract())
    if state == State.RENOUVELLEMENT:
        events.append(story.renewal(days=150))
    if state == State.SORTIE:
        events.append(story.exit("emploi", days=30))
    return story, events


@pytest.fixture
def wide(db: Any, clock: Any, tmp_path: Path) -> Harness:
    override = tmp_path / "conventions.toml"
    override.write_text(TWO_RENEWALS, encoding="utf-8")
    return make_harness(db, clock, override)


@pytest.mark.parametrize(("trigger", "state"), PAIRS, ids=[f"{t}-from-{s}" for t, s in PAIRS])
def test_every_trigger_from_every_state(wide: Harness, trigger: str, state: State) -> None:
    story, events = story_in(state)
    wide.apply(*events)
    before = wide.log(story.ref)
    assert wide.case(story.ref).state == state

    def attempt() -> None:
        with UnitOfWork(wide.sessions) as uow:
            case = uow.session.scalar(select(Case).where(Case.reference == story.ref))
            assert case is not None
            on = story.day + timedelta(days=1)
            if trigger == SIGNALER_ECHU and case.contract_end is not None:
                on = case.contract_end + timedelta(days=1)
            decide(
                uow, wide.ctx, case, trigger,
                actor=ACTORS.get(trigger, Actor("C67", Role.CONSEILLER)), occurred_at=at(on), on=on,
                **VALID_FIELDS[trigger],
            )  # fmt: skip
            uow.commit()

    if (trigger, state) in ALLOWED:
        attempt()
        after = wide.log(story.ref)
        assert len(after) == len(before) + 1
        row = after[-1]
        target = MOVES[trigger].dest or state
        assert wide.case(story.ref).state == target
        assert (row.trigger, row.from_state, row.to_state) == (trigger, state, target)
        assert row.prev_hash == before[-1].hash
        assert chain.first_break(after) is None
    else:
        said = f"refus de « {labels.TRIGGERS[trigger]} » dans l'état « {labels.STATES[state]} » : "
        with pytest.raises(TransitionRefused, match="^" + re.escape(said)):
            attempt()
        assert [r.hash for r in wide.log(story.ref)] == [r.hash for r in before]
        assert wide.case(story.ref).state == state


def test_the_table_forbids_something_from_every_state() -> None:
    """A sanity check on the parametrisation: both outcomes are exercised."""
    assert ALLOWED
    assert len(ALLOWED) < len(PAIRS)
    assert all(any((t, s) not in ALLOWED for t in TRIGGERS) for s in State)
