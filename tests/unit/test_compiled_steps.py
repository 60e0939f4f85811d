"""The compiled table (`lifecycle.STEPS`, read by `fire`) does what the `transitions` machine does,
for every state, every trigger and every outcome of the trigger's guards: the same refusal (its
type, reasons, whether premature), the same state after, the same details, the same effect run
or not, and the same failure when the effect fails after the state moved."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.domain.attempt import Attempt
from workflow.domain.errors import EffectFailed, TransitionRefused
from workflow.domain.lifecycle import (
    MACHINE,
    STEPS,
    TABLE,
    Move,
    State,
    build_machine,
    compile_steps,
    fire_on_machine,
    fire_step,
)
from workflow.domain.records import RebuiltCase
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, Opinion, RenewalDecidedBy

from .test_guards import make_attempt

UNKNOWN = "inventer"  # a trigger the table does not know


@dataclasses.dataclass
class Person:
    registered: bool = True
    status: str = "BRSA"


@dataclasses.dataclass
class Case(RebuiltCase):
    """A case as the rules see a stored one: its fields and its person."""

    person: Person = dataclasses.field(default_factory=Person)


def new_case(**fields: Any) -> Case:
    """A case; one under contract has its contract's dates, as every stored one does."""
    values: dict[str, Any] = {
        "reference": "AG-T", "convention_code": "67", "agence": "A67", "state": State.REPERAGE.value,
        "orienteur_id": "O67", "origin": "ft", "orientation_date": date(2026, 1, 5),
    }  # fmt: skip
    case = Case(**{**values, **fields})
    if case.state in (State.CONTRAT, State.RENOUVELLEMENT):
        case.contract_start = case.contract_start or date(2026, 1, 15)
        case.contract_end = case.contract_end or date(2026, 7, 14)
    return case


def test_the_compiled_table_holds_each_transition_of_the_machine_and_no_other() -> None:
    held = {
        (source, trigger): transitions[0].dest
        for trigger, event in MACHINE.events.items()
        for source, transitions in event.transitions.items()
    }
    assert {key: step.dest for key, step in STEPS.items()} == held
    assert {key: step.move.trigger for key, step in STEPS.items()} == {key: key[1] for key in held}
    table = {(s.value, m.trigger): m.dest.value if m.dest else None for m in TABLE for s in m.sources}
    assert held == table


# Every guard outcome: each move's guards and effect replaced by stand-ins with the same names,
# which pass or refuse as told, and record what ran.


class Script:
    """What the stand-ins do in one run: which guards refuse, whether the effect fails."""

    def __init__(self, refusing: frozenset[str], effect_fails: bool) -> None:
        self.refusing, self.effect_fails = refusing, effect_fails
        self.ran: list[str] = []


class Stage:
    """The script the stand-ins follow now."""

    script = Script(frozenset(), False)


def _guard(name: str) -> Callable[[Any, Any], str | None]:
    def guard(case: Any, attempt: Any) -> str | None:
        Stage.script.ran.append(name)
        return f"{name} refuse" if name in Stage.script.refusing else None

    guard.__name__ = name
    return guard


def _effect(name: str) -> Callable[[Any, Any], Mapping[str, Any]]:
    def effect(case: Any, attempt: Any) -> Mapping[str, Any]:
        Stage.script.ran.append(name)
        if Stage.script.effect_fails:
            raise RuntimeError("panne")
        case.renewal_count += 1
        return {"effect": name, "state_seen": str(case.state)}

    effect.__name__ = name
    return effect


STAND_INS = tuple(
    dataclasses.replace(
        move,
        guards=tuple(_guard(g.__name__) for g in move.guards),
        effect=_effect(move.effect.__name__),  # type: ignore[arg-type]
    )
    for move in TABLE
)
STAND_IN_MACHINE = build_machine(table=STAND_INS)
STAND_IN_STEPS = compile_steps(STAND_IN_MACHINE, STAND_INS)


def _cases() -> list[tuple[State, Move | None, frozenset[str], bool]]:
    out: list[tuple[State, Move | None, frozenset[str], bool]] = []
    for state in State:
        out.append((state, None, frozenset(), False))
        for move in STAND_INS:
            names = [g.__name__ for g in move.guards]
            for picked in itertools.product((False, True), repeat=len(names)):
                refusing = frozenset(n for n, on in zip(names, picked, strict=True) if on)
                out.extend((state, move, refusing, fails) for fails in (False, True))
    return out


def _outcome(fire: Callable[[Case], dict[str, Any]], script: Script, state: State) -> tuple[Any, ...]:
    Stage.script = script
    case = new_case(state=state.value)
    try:
        result: Any = ("moved", fire(case))
    except TransitionRefused as exc:
        result = ("refused", exc.trigger, exc.reasons, exc.premature, str(exc))
    except EffectFailed as exc:
        result = ("failed", str(exc))
    return (result, case.state, case.renewal_count, tuple(script.ran))


@pytest.mark.parametrize(("state", "move", "refusing", "effect_fails"), _cases())
def test_the_compiled_table_does_what_the_machine_does_for_every_guard_outcome(
    state: State, move: Move | None, refusing: frozenset[str], effect_fails: bool
) -> None:
    trigger = move.trigger if move else UNKNOWN
    attempt = make_attempt()
    by_machine = _outcome(
        lambda case: fire_on_machine(STAND_IN_MACHINE, case, trigger, attempt),
        Script(refusing, effect_fails),
        state,
    )
    compiled = _outcome(
        lambda case: fire_step(STAND_IN_STEPS, case, trigger, attempt), Script(refusing, effect_fails), state
    )
    assert compiled == by_machine
    allowed = move is not None and state in move.sources
    if allowed and refusing:
        assert by_machine[0][0] == "refused"
    elif allowed:
        assert by_machine[0][0] == ("failed" if effect_fails else "moved")
    else:
        assert by_machine[0][0] == "refused"


# The real guards and effects, on generated cases and decisions.

CASES = st.builds(
    new_case,
    state=st.sampled_from([s.value for s in State]),
    person=st.builds(Person, registered=st.booleans(), status=st.sampled_from(["BRSA", "ASS", "ARE"])),
    barriers=st.lists(st.sampled_from(["logement", "mobilite", "sante", "numerique", "autre"]), unique=True),
    consent=st.booleans(),
    other_barrier_agreed=st.booleans(),
    conseiller_id=st.sampled_from([None, "C67"]),
    referent_social_id=st.sampled_from([None, "R67"]),
    renewal_count=st.integers(0, 2),
    contract_start=st.sampled_from([None, date(2026, 1, 15)]),
    contract_end=st.sampled_from([None, date(2026, 2, 1), date(2026, 7, 14)]),
    exit_date=st.sampled_from([None, date(2026, 3, 1)]),
    revue_flag=st.sampled_from([None, "echu"]),
    entry_acted_on=st.sampled_from([None, date(2026, 2, 1)]),
    exit_acted_on=st.sampled_from([None, date(2026, 3, 2)]),
)
ATTEMPTS = st.builds(
    lambda **fields: make_attempt(**{k: v for k, v in fields.items() if v is not None}),
    consent=st.sampled_from([None, True]),
    conseiller_id=st.sampled_from([None, "C67"]),
    referent_social_id=st.sampled_from([None, "R67"]),
    diagnostic_kind=st.sampled_from([None, *DiagnosticKind]),
    conseiller_opinion=st.sampled_from([None, *Opinion]),
    referent_opinion=st.sampled_from([None, *Opinion]),
    renewal_by=st.sampled_from([None, *RenewalDecidedBy]),
    exit_reason=st.sampled_from([None, *ExitReason]),
    ep_validated=st.sampled_from([None, True]),
    revue_id=st.sampled_from([None, 7]),
    on=st.sampled_from([date(2026, 1, 20), date(2026, 7, 20), date(2028, 6, 1)]),
)


@settings(max_examples=400, deadline=None)
@given(
    case=CASES,
    trigger=st.sampled_from([m.trigger for m in TABLE]),
    attempt=ATTEMPTS,
)
def test_the_compiled_table_agrees_with_the_machine_on_the_real_rules(
    case: Case, trigger: str, attempt: Attempt
) -> None:
    twin = dataclasses.replace(case, barriers=list(case.barriers))

    def outcome(fire: Callable[[], dict[str, Any]], on: Case) -> tuple[Any, ...]:
        try:
            result: Any = ("moved", fire())
        except TransitionRefused as exc:
            result = ("refused", exc.reasons, exc.premature)
        except Exception as exc:  # a guard's or an effect's own failure: the same in both
            result = ("failed", type(exc).__name__, str(exc))
        return result, dataclasses.asdict(on)

    by_machine = outcome(lambda: fire_on_machine(MACHINE, case, trigger, attempt), case)
    compiled = outcome(lambda: fire_step(STEPS, twin, trigger, attempt), twin)
    assert compiled == by_machine
