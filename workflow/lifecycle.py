"""The lifecycle of a case: states, triggers and the one table of transitions.

repérage → diagnostic partagé → contrat → renouvellement → sortie (DOMAIN.md; seeds 000/001
art. 3.3-3.5, seed 004 art. 2 d-g).

One `transitions.Machine` is built at import time with no model and shared by every case:
a case is only handed to `Event.trigger` for the duration of one trigger, never added with
`add_model` (the machine keeps its models in a list, which makes adding many of them
quadratic: transitions issue #434). Guards run as the transition's conditions, before the
state moves, and raise `TransitionRefused` with their reason; effects run after the move.
The caller (`workflow.services`) wraps the trigger, the case row and its log row in one
database transaction, since `transitions` does not undo a state change when a callback fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from transitions import EventData, Machine, MachineError

from models import Case
from workflow import guards as g
from workflow.attempt import Attempt
from workflow.dates import period_end
from workflow.errors import EffectFailed, TransitionRefused


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

OPEN_STATES = frozenset({State.REPERAGE, State.DIAGNOSTIC, State.CONTRAT, State.RENOUVELLEMENT})
BEFORE_CONTRACT = frozenset({State.REPERAGE, State.DIAGNOSTIC})
UNDER_CONTRACT = frozenset({State.CONTRAT, State.RENOUVELLEMENT})

Effect = Callable[[Case, Attempt], dict[str, Any]]


def _assign_binome(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.conseiller_id = attempt.conseiller_id
    case.referent_social_id = attempt.referent_social_id
    return {"conseiller": attempt.conseiller_id, "referent_social": attempt.referent_social_id}


def _record_consent(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.consent = bool(attempt.consent)
    return {"consent": case.consent}


def _record_diagnostic(case: Case, attempt: Attempt) -> dict[str, Any]:
    if attempt.barriers is not None:
        case.barriers = list(attempt.barriers)
    case.diagnostic_kind = attempt.diagnostic_kind
    case.conseiller_opinion = attempt.conseiller_opinion
    case.referent_opinion = attempt.referent_opinion
    case.diagnostic_date = attempt.on
    return {"diagnostic_kind": str(attempt.diagnostic_kind)}


def _start_contract(case: Case, attempt: Attempt) -> dict[str, Any]:
    """Seeds 000/001 art. 3.4: the signature starts the accompaniment."""
    case.convention_version_id = attempt.convention_version_id
    case.contract_start = attempt.on
    case.contract_end = period_end(attempt.on, attempt.terms.first_contract_months)
    return {
        "contract_start": case.contract_start.isoformat(),
        "contract_end": case.contract_end.isoformat(),
        "convention_version_id": attempt.convention_version_id,
    }


def _renew(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.contract_end = g.renewed_end(case, attempt)
    case.renewal_count += 1
    case.renewal_date = attempt.on
    _clear_revue_flag(case)
    return {"contract_end": case.contract_end.isoformat(), "decided_by": str(attempt.renewal_by)}


def _close(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.exit_date = attempt.on
    case.exit_reason = attempt.exit_reason
    if attempt.revue_id is not None:  # decided at the revue, so acted there too
        case.exit_acted_on = attempt.on
    _clear_revue_flag(case)
    return {}


def _act_entry(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.entry_acted_on = attempt.on
    return {}


def _act_exit(case: Case, attempt: Attempt) -> dict[str, Any]:
    case.exit_acted_on = attempt.on
    return {}


def _clear_revue_flag(case: Case) -> None:
    """The decision a flag asked the revue for (renew or exit) is taken."""
    if case.revue_flag is not None:
        case.revue_flag = None
        case.revue_flagged_on = None


@dataclass(frozen=True)
class Move:
    """One row of the table. `dest=None` is an internal transition: logged, no state change."""

    trigger: str
    sources: frozenset[State]
    dest: State | None
    guards: tuple[g.Guard, ...]
    effect: Effect
    refused_elsewhere: str = ""  # why the trigger makes no sense from other states


TABLE: tuple[Move, ...] = (
    Move(
        AFFECTER_BINOME,
        BEFORE_CONTRACT,
        None,
        (g.binome_complete,),
        _assign_binome,
        "the binôme stays the same all along once the contract is signed "
        "(seed 004 art. 3.1: « toujours accompagné par le même binôme »)",
    ),
    Move(RECUEILLIR_ADHESION, BEFORE_CONTRACT, None, (), _record_consent),
    Move(
        POSER_DIAGNOSTIC,
        frozenset({State.REPERAGE}),
        State.DIAGNOSTIC,
        (
            g.person_registered,
            g.social_and_professional_barriers,
            g.other_barrier_agreed,
            g.consent_given,
            g.binome_assigned,
            g.joint_agreement,
        ),
        _record_diagnostic,
        "the diagnostic is made once, during repérage (seeds 000/001 art. 3.3)",
    ),
    Move(
        SIGNER_CONTRAT,
        frozenset({State.DIAGNOSTIC}),
        State.CONTRAT,
        (g.person_registered, g.consent_given, g.contract_names_referent_social),
        _start_contract,
        "a contract is signed once, after the diagnostic partagé (seeds 000/001 art. 3.4)",
    ),
    Move(
        RENOUVELER,
        UNDER_CONTRACT,
        State.RENOUVELLEMENT,
        (g.renewals_left, g.renewal_jointly_examined, g.within_maximum_duration),
        _renew,
        "only a signed contract can be renewed (seeds 000/001 art. 3.5)",
    ),
    Move(
        SORTIR,
        OPEN_STATES,
        State.SORTIE,
        (g.exit_reason_given, g.exit_reason_fits_state, g.social_reorientation_validated),
        _close,
        "the case is already closed",
    ),
    # seed 004 art. 2 d and 5.2: the revue de portefeuille acts what the binôme did; « la décision
    # de l'instance ne constitue qu'une formalité d'enregistrement » when both agree.
    Move(
        ACTER_ENTREE,
        UNDER_CONTRACT | {State.SORTIE},  # a case may enter and leave between two revues
        None,
        (g.taken_at_a_revue, g.contract_signed, g.entry_not_acted),
        _act_entry,
        "an entry is acted once the contract is signed (seed 004 art. 2 d)",
    ),
    Move(
        ACTER_SORTIE,
        frozenset({State.SORTIE}),
        None,
        (g.taken_at_a_revue, g.exit_not_acted),
        _act_exit,
        "only an exit that happened can be acted (seed 004 art. 5.2)",
    ),
)

MOVES = {move.trigger: move for move in TABLE}
TRIGGERS = tuple(MOVES)


def _guard_condition(guard: g.Guard, trigger: str) -> Callable[[EventData], bool]:
    def check(event: EventData) -> bool:
        case = cast(Case, event.model)
        reason = guard(case, event.kwargs["attempt"])
        if reason is not None:
            raise TransitionRefused(trigger, case.state, reason)
        return True

    check.__name__ = guard.__name__
    return check


def _effect_callback(effect: Effect) -> Callable[[EventData], None]:
    def apply(event: EventData) -> None:
        try:
            event.kwargs["details"].update(effect(cast(Case, event.model), event.kwargs["attempt"]))
        except Exception as exc:
            raise EffectFailed(f"{effect.__name__} failed after the state moved: {exc}") from exc

    apply.__name__ = effect.__name__
    return apply


def build_machine(model: object | None = None, initial: str | None = None) -> Machine:
    """The machine of TABLE. Built once with no model (MACHINE); `bench/machine.py` also builds
    it per case, to measure what sharing saves."""
    transitions = [
        {
            "trigger": move.trigger,
            "source": sorted(s.value for s in move.sources),
            "dest": move.dest.value if move.dest else None,
            "conditions": [_guard_condition(guard, move.trigger) for guard in move.guards],
            "after": _effect_callback(move.effect),
        }
        for move in TABLE
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


MACHINE = build_machine()


def fire(case: Case, trigger: str, attempt: Attempt) -> dict[str, Any]:
    """Run one trigger on one case; return the details its effect wants logged.

    Raises TransitionRefused (nothing changed on the case) when the trigger is unknown, not
    allowed from the case's state, or refused by a guard.
    """
    move = MOVES.get(trigger)
    if move is None:
        raise TransitionRefused(trigger, case.state, f"unknown trigger (known: {', '.join(TRIGGERS)})")
    details: dict[str, Any] = {}
    try:
        MACHINE.events[trigger].trigger(case, attempt=attempt, details=details)
    except MachineError:
        allowed = ", ".join(sorted(move.sources))
        why = f"; {move.refused_elsewhere}" if move.refused_elsewhere else ""
        raise TransitionRefused(
            trigger, case.state, f"not allowed from {case.state} (only from {allowed}){why}", premature=True
        ) from None
    return details


def mermaid() -> str:
    """The lifecycle as a mermaid state diagram, generated from the table (for the README)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.REPERAGE.value} : {ORIENTER}"]
    for move in TABLE:
        for source in sorted(move.sources):
            dest = move.dest.value if move.dest else source
            lines.append(f"    {source} --> {dest} : {move.trigger}")
    lines.append(f"    {State.SORTIE.value} --> [*]")
    return "\n".join(lines) + "\n"
