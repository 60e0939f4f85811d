"""The lifecycle of a case: states, triggers and the one table of transitions.

repérage → diagnostic partagé → contrat → renouvellement → sortie (docs/business-rules.md;
seeds 000/001 art. 3.3-3.5, seed 004 art. 2 d-g; the seeds are listed in docs/first-day.md).

One `transitions.Machine` is built at import time with no model and shared by every case:
a case is only handed to `Event.trigger` for the duration of one trigger, never added with
`add_model` (the machine keeps its models in a list, which makes adding many of them
quadratic: transitions issue #434). Guards run as the transition's conditions, before the
state moves: each returns a bool as `transitions` means a condition, their reasons collected
aside so that one refusal names every failing guard; effects (`effects.py`) run after the move.
The caller (`workflow.application.handling`) wraps the trigger, the case row and its log row in one
database transaction, since `transitions` does not undo a state change when a callback fails.

The event path does not run the machine's trigger itself: `fire` reads STEPS, a table compiled at
import from the machine's own transitions (for each state and trigger, the destination the
machine holds, with the move's guards and effect), and does what the machine does, without
building an EventData and resolving callbacks for every event. `fire_on_machine` runs the
machine; `tests/unit/test_compiled_steps.py` proves the two agree for every state, trigger and
guard outcome. The machine stays the one source of what may move where.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from transitions import EventData, Machine, MachineError

from workflow.domain import effects, guards
from workflow.domain.attempt import Attempt
from workflow.domain.effects import Effect
from workflow.domain.errors import EffectFailed, TransitionRefused
from workflow.domain.guards import Guard
from workflow.domain.records import CaseFields, CaseRecord

# The library logs each callback it runs at INFO (25 214 of a worker's 26 167 lines after one
# ingest): its chatter is not ours. Its warnings and errors still show.
logging.getLogger("transitions").setLevel(logging.WARNING)


class State(StrEnum):
    REPERAGE = "reperage"
    DIAGNOSTIC = "diagnostic"
    CONTRAT = "contrat"
    RENOUVELLEMENT = "renouvellement"
    SORTIE = "sortie"


# Opening a case is not a move of the machine (there is no state before repérage), but it is
# logged as the first row of the case's chain under this trigger name.
ORIENTER = "orienter"

AFFECTER_BINOME = "affecter_binome"
RECUEILLIR_ADHESION = "recueillir_adhesion"
POSER_DIAGNOSTIC = "poser_diagnostic"
SIGNER_CONTRAT = "signer_contrat"
RENOUVELER = "renouveler"
SORTIR = "sortir"
ACTER_ENTREE = "acter_entree"
ACTER_SORTIE = "acter_sortie"
SIGNALER_ECHU = "signaler_echu"

OPEN_STATES = frozenset({State.REPERAGE, State.DIAGNOSTIC, State.CONTRAT, State.RENOUVELLEMENT})
BEFORE_CONTRACT = frozenset({State.REPERAGE, State.DIAGNOSTIC})
UNDER_CONTRACT = frozenset({State.CONTRAT, State.RENOUVELLEMENT})


@dataclass(frozen=True)
class Move:
    """One row of the table. `dest=None` is an internal transition: logged, no state change."""

    trigger: str
    sources: frozenset[State]
    dest: State | None
    guards: tuple[Guard, ...]
    effect: Effect
    refused_elsewhere: str = ""  # why the trigger makes no sense from other states


TABLE: tuple[Move, ...] = (
    Move(
        AFFECTER_BINOME,
        BEFORE_CONTRACT,
        None,
        (guards.is_binome_complete,),
        effects.assign_binome,
        "le binôme reste le même tout au long une fois le contrat signé "
        "(convention 004 art. 3.1 : « toujours accompagné par le même binôme »)",
    ),
    Move(RECUEILLIR_ADHESION, BEFORE_CONTRACT, None, (), effects.record_consent),
    Move(
        POSER_DIAGNOSTIC,
        frozenset({State.REPERAGE}),
        State.DIAGNOSTIC,
        (
            guards.is_registered,
            guards.has_social_and_professional_barriers,
            guards.is_other_barrier_agreed,
            guards.has_consent,
            guards.has_binome,
            guards.has_joint_agreement,
        ),
        effects.record_diagnostic,
        "the diagnostic is made once, during repérage (seeds 000/001 art. 3.3)",
    ),
    Move(
        SIGNER_CONTRAT,
        frozenset({State.DIAGNOSTIC}),
        State.CONTRAT,
        (guards.is_registered, guards.has_consent, guards.is_referent_social_named),
        effects.start_contract,
        "un contrat se signe une fois, après le diagnostic partagé (conventions 000/001 art. 3.4)",
    ),
    Move(
        RENOUVELER,
        UNDER_CONTRACT,
        State.RENOUVELLEMENT,
        (guards.has_renewals_left, guards.is_renewal_jointly_examined, guards.is_within_maximum_duration),
        effects.renew,
        "seul un contrat signé peut être renouvelé (conventions 000/001 art. 3.5)",
    ),
    Move(
        SORTIR,
        OPEN_STATES,
        State.SORTIE,
        (guards.has_exit_reason, guards.is_exit_reason_fitting, guards.is_social_reorientation_validated),
        effects.close,
        "le dossier est déjà clos",
    ),
    # seed 004 art. 2 d and 5.2: the revue de portefeuille acts what the binôme did; « la décision
    # de l'instance ne constitue qu'une formalité d'enregistrement » when both agree.
    Move(
        ACTER_ENTREE,
        UNDER_CONTRACT | {State.SORTIE},  # a case may enter and leave between two revues
        None,
        (guards.is_taken_at_a_revue, guards.has_signed_contract, guards.is_entry_not_acted_yet),
        effects.act_entry,
        "une entrée s'acte une fois le contrat signé (convention 004 art. 2 d)",
    ),
    Move(
        ACTER_SORTIE,
        frozenset({State.SORTIE}),
        None,
        (guards.is_taken_at_a_revue, guards.is_exit_not_acted_yet),
        effects.act_exit,
        "seule une sortie qui a eu lieu peut être actée (convention 004 art. 5.2)",
    ),
    # A contract that ran out with no decision goes to the next revue (seed 004 art. 2 g: the
    # renewal « est examiné » there); the daily scan fires this the day the expiry reminder goes,
    # so that the flag, like every change of a case, is in the log.
    Move(
        SIGNALER_ECHU,
        UNDER_CONTRACT,
        None,
        (guards.has_contract_run_out, guards.is_not_flagged_yet),
        effects.flag_for_revue,
        "seul un contrat échu peut être signalé pour la revue (convention 004 art. 2 g)",
    ),
)

MOVES = {move.trigger: move for move in TABLE}
TRIGGERS = tuple(MOVES)


def _collect_refusals(move: Move) -> Callable[[EventData], None]:
    """Run every guard of the move before its conditions are checked, keeping each failing
    guard's reason: a refusal then says all that is missing, not only the first thing."""

    def collect(event: EventData) -> None:
        case, attempt = cast(CaseRecord, event.model), event.kwargs["attempt"]
        # `fire` passes its own dict to read the reasons from; a bare trigger or `may_<trigger>`
        # on a model added to a machine gets one here.
        refusals: dict[str, str] = event.kwargs.setdefault("refusals", {})
        refusals.clear()
        for guard in move.guards:
            reason = guard(case, attempt)
            if reason is not None:
                refusals[guard.__name__] = reason

    return collect


def _condition(guard: Guard) -> Callable[[EventData], bool]:
    """The guard as `transitions` means a condition: a bool (its reason is kept aside)."""

    def passed(event: EventData) -> bool:
        return guard.__name__ not in event.kwargs["refusals"]

    passed.__name__ = guard.__name__
    return passed


def _effect_callback(effect: Effect) -> Callable[[EventData], None]:
    def apply(event: EventData) -> None:
        try:
            event.kwargs["details"].update(effect(cast(CaseFields, event.model), event.kwargs["attempt"]))
        except Exception as exc:
            raise EffectFailed(f"{effect.__name__} failed after the state moved: {exc}") from exc

    apply.__name__ = effect.__name__
    return apply


def build_machine(
    model: object | None = None,
    initial: str | None = None,
    *,
    guarded: bool = True,
    table: tuple[Move, ...] = TABLE,
) -> Machine:
    """The machine of TABLE. Built once with no model (MACHINE); `bench/machine.py` also builds
    it per case, to measure what sharing saves. Unguarded (REPLAY_MACHINE), it runs the same
    moves and effects without the guards: a log row says the guards passed when it was written,
    and a replay checks what followed from it, not the rules of today."""
    transitions = [
        {
            "trigger": move.trigger,
            "source": sorted(s.value for s in move.sources),
            "dest": move.dest.value if move.dest else None,
            "prepare": _collect_refusals(move) if guarded else [],
            "conditions": [_condition(guard) for guard in move.guards] if guarded else [],
            "after": _effect_callback(move.effect),
        }
        for move in table
    ]
    return Machine(
        model=model,
        states=[s.value for s in State],
        transitions=transitions,
        initial=initial,
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
    )


@dataclass(frozen=True)
class Step:
    """What the machine does on one trigger from one state: the move (its guards, its effect)
    and the destination the machine holds (None: an internal transition, no state change)."""

    move: Move
    dest: str | None


Steps = dict[tuple[str, str], Step]


def compile_steps(machine: Machine, table: tuple[Move, ...] = TABLE) -> Steps:
    """(state, trigger) → Step, read from the machine built from `table`: each trigger's
    sources and destination as `transitions` holds them."""
    moves = {move.trigger: move for move in table}
    steps: Steps = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            (transition,) = transitions  # one row of the table per (trigger, source)
            steps[(source, trigger)] = Step(moves[trigger], transition.dest)
    return steps


MACHINE = build_machine()
REPLAY_MACHINE = build_machine(guarded=False)
STEPS = compile_steps(MACHINE)


def fire(case: CaseRecord, trigger: str, attempt: Attempt) -> dict[str, Any]:
    """Run one trigger on one case; return the details its effect wants logged.

    Raises TransitionRefused (nothing changed on the case) when the trigger is unknown, not
    allowed from the case's state, or refused by its guards (every failing guard named);
    EffectFailed when the effect fails after the state moved (the caller rolls back).
    """
    return fire_step(STEPS, case, trigger, attempt)


def fire_step(steps: Steps, case: CaseRecord, trigger: str, attempt: Attempt) -> dict[str, Any]:
    """`fire` on a compiled table: what the machine does, in its order (every guard, then the
    state, then the effect)."""
    step = steps.get((case.state, trigger))
    if step is None:
        raise _not_from_here(case, _move(case, trigger))
    move = step.move
    refusals = [reason for guard in move.guards if (reason := guard(case, attempt)) is not None]
    if refusals:
        raise TransitionRefused(trigger, case.state, refusals)
    if step.dest is not None:
        case.state = step.dest
    try:
        return dict(move.effect(case, attempt))
    except Exception as exc:
        raise EffectFailed(f"{move.effect.__name__} failed after the state moved: {exc}") from exc


def fire_on_machine(machine: Machine, case: CaseRecord, trigger: str, attempt: Attempt) -> dict[str, Any]:
    """`fire` through the machine's own trigger: the reference the compiled table is held to."""
    move = _move(case, trigger)
    details: dict[str, Any] = {}
    refusals: dict[str, str] = {}
    try:
        moved = machine.events[trigger].trigger(case, attempt=attempt, details=details, refusals=refusals)
    except MachineError:
        raise _not_from_here(case, move) from None
    if not moved:
        raise TransitionRefused(trigger, case.state, list(refusals.values()))
    return details


def fire_unguarded(case: CaseFields, trigger: str, attempt: Attempt) -> dict[str, Any]:
    """Run a logged trigger again on a rebuilt case (`workflow.domain.log_replay`): the same
    move and effect as `fire`, no guard. Raises TransitionRefused if the table has no such move
    from the case's state."""
    move = _move(case, trigger)
    details: dict[str, Any] = {}
    try:
        REPLAY_MACHINE.events[trigger].trigger(case, attempt=attempt, details=details, refusals={})
    except MachineError:
        raise _not_from_here(case, move) from None
    return details


def reasons_against(case: CaseRecord, trigger: str, attempt: Attempt) -> list[str]:
    """Why `trigger` may not fire on the case now (empty: it may), without firing it: the
    machine's `may_<trigger>` check, for a screen that offers only what is possible."""
    move = _move(case, trigger)
    if case.state not in move.sources:
        return [_not_from_here(case, move).reason]
    found: dict[str, str] = {}
    # `may_<trigger>` is bound on models added to the machine; cases never are (see the module's
    # docstring), so the check it partially applies is called with the case directly.
    MACHINE._can_trigger(case, trigger, attempt=attempt, details={}, refusals=found)
    return list(found.values())


def _move(case: CaseFields, trigger: str) -> Move:
    move = MOVES.get(trigger)
    if move is None:
        raise TransitionRefused(trigger, case.state, f"déclencheur inconnu (connus : {', '.join(TRIGGERS)})")
    return move


def _not_from_here(case: CaseFields, move: Move) -> TransitionRefused:
    """A trigger not allowed from the case's state. Premature while the case is open (an
    earlier event of the case may still be on its way); final once it is closed."""
    from workflow.domain.labels import STATES  # the labels read this module

    allowed = ", ".join(sorted(STATES[state] for state in move.sources))
    why = f" ; {move.refused_elsewhere}" if move.refused_elsewhere else ""
    reason = f"possible seulement depuis : {allowed}{why}"
    return TransitionRefused(move.trigger, case.state, reason, premature=case.state in OPEN_STATES)


def mermaid() -> str:
    """The lifecycle as a mermaid state diagram, drawn by `transitions` itself from the table
    (for `docs/business-rules.md`): the same rows the machine runs, guards and effects aside."""
    from transitions.extensions import GraphMachine

    rows = [
        {
            "trigger": m.trigger,
            "source": sorted(s.value for s in m.sources),
            "dest": m.dest.value if m.dest else None,
        }
        for m in TABLE
    ]
    drawn = GraphMachine(
        states=[s.value for s in State], transitions=rows, initial=State.REPERAGE.value,
        auto_transitions=False, graph_engine="mermaid",
        # transitions writes the title alone between the front-matter lines; mermaid reads a key.
        title="title: Cycle de vie d'un dossier",
    )  # fmt: skip
    return str(drawn.get_graph().draw(None)).rstrip() + "\n"
