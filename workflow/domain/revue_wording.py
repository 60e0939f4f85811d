"""What a secretary writes in a revue's tableau: the rubriques' decisions, as words.

Seed 004 art. 2 d: entries, renewals and exits are acted at the monthly revue. The tableau
sent back carries one decision per line, in the columns below; the service reads them
(`application.revue.acting`) and the files offer them as drop-down lists (`adapters.revue_files`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.labels import EXIT_REASONS
from workflow.domain.vocabulary import ExitReason

DECISION, ACTOR = "decision", "acteur"  # the columns the secretariat fills in the tableau
ACTER, RENOUVELER_VERB, SORTIE = "acter", "renouveler", "sortie"
# What each rubrique of the tableau can decide; `sortie:<motif>` names the exit reason.
VERBS: Mapping[str, frozenset[str]] = {
    "entrees": frozenset({ACTER}),
    "renouvellements": frozenset({RENOUVELER_VERB, SORTIE}),
    "sorties": frozenset({ACTER}),
    "a_debattre": frozenset({SORTIE}),
}


# The words of the drop-down list; a decision is also understood as its code (`sortie:emploi`).
WORDS = {ACTER: "Acter", RENOUVELER_VERB: "Renouveler"}
SORTIE_WORD = "Sortie —"


def choices(rubrique: str) -> list[str]:
    """Every decision a rubrique accepts, in the words of the tableau's drop-down list."""
    verbs = VERBS.get(rubrique, frozenset())
    listed = [WORDS[verb] for verb in (ACTER, RENOUVELER_VERB) if verb in verbs]
    if SORTIE in verbs:
        listed += [f"{SORTIE_WORD} {EXIT_REASONS[reason]}" for reason in ExitReason]
    return listed


def decision_code(text: str) -> str:
    """A decision as the tableau holds it (a word of the list, or a code) → its code, lower case:
    « Sortie — Sans entrée : refus » → `sortie:sans_entree_refus`."""
    return _CODES.get(text.strip().casefold(), text.strip().lower())


def decision_word(code: str) -> str:
    """A decision's code as the tableau's list words it: `sortie:emploi` → « Sortie — Emploi »."""
    verb, _, reason = code.partition(":")
    return f"{SORTIE_WORD} {EXIT_REASONS.get(reason, reason)}" if reason else WORDS.get(verb, verb)


_CODES = {
    **{word.casefold(): verb for verb, word in WORDS.items()},
    **{f"{SORTIE_WORD} {word}".casefold(): f"{SORTIE}:{code}" for code, word in EXIT_REASONS.items()},
}


@dataclass(frozen=True)
class Line:
    """One row of the tableau as sent back: its rubrique, where it is, and its cells."""

    rubrique: str
    where: str  # e.g. "revue.xlsx, sheet « Entrées à acter », line 3"
    cells: Mapping[str, Any]
