"""Reading decisions from a tableau sent back: what each rubrique accepts, the formality."""

from __future__ import annotations

from typing import Any

import pytest

from models import Revue
from workflow.application.revue.acting import formality, from_lines
from workflow.domain.errors import WorkflowError
from workflow.domain.revue_wording import Line, choices, decision_code
from workflow.domain.vocabulary import ExitReason

CONTENT: dict[str, list[dict[str, Any]]] = {
    "entrees": [
        {"dossier": "A", "diagnostic": "partage"},
        {"dossier": "B", "diagnostic": "confiance_reciproque"},
    ],
    "renouvellements": [{"dossier": "C"}],
    "sorties": [{"dossier": "D", "motif": "emploi"}],
    "a_debattre": [{"dossier": "E", "sujet": "désaccord du binôme"}],
}
REVUE = Revue(id=7, agence="Nord", month="2026-04", content=CONTENT)


def line(rubrique: str, dossier: str, decision: Any, acteur: Any = None, n: int = 2) -> Line:
    return Line(rubrique, f"t.csv, ligne {n}", {"dossier": dossier, "decision": decision, "acteur": acteur})


def test_the_formality_acts_joint_entries_and_every_exit_but_never_decides_for_the_revue() -> None:
    """seed 004 art. 5.2 a: a formality « lorsque le conseiller emploi et l'intervenant social
    partagent les mêmes conclusions »: a one-professional diagnostic needs a decision."""
    assert [(d.rubrique, d.case_reference, d.text) for d in formality(REVUE, "C1")] == [
        ("entrees", "A", "acter"),
        ("sorties", "D", "acter"),
    ]


@pytest.mark.parametrize(
    ("rubrique", "dossier", "text", "expected"),
    [
        ("entrees", "B", " Acter ", "acter"),
        ("renouvellements", "C", "renouveler", "renouveler"),
        ("renouvellements", "C", "sortie:duree_maximale", "sortie:duree_maximale"),
        ("a_debattre", "E", "sortie: sans_entree_desaccord", "sortie:sans_entree_desaccord"),
        ("sorties", "D", "acter", "acter"),
    ],
)
def test_each_rubrique_reads_its_decisions(rubrique: str, dossier: str, text: str, expected: str) -> None:
    [decision] = from_lines(REVUE, [line(rubrique, dossier, text)], default_actor="C1")
    assert (decision.case_reference, decision.text, decision.actor_id) == (dossier, expected, "C1")


@pytest.mark.parametrize(
    ("rubrique", "dossier", "text", "problem"),
    [
        (
            "entrees",
            "A",
            "renouveler",
            "'renouveler' n'est pas une décision de la rubrique « Entrées à acter » (au choix : acter)",
        ),
        ("sorties", "D", "sortie:emploi", "n'est pas une décision de la rubrique « Sorties à acter »"),
        ("a_debattre", "E", "acter", "(au choix : sortie, sortie:<motif>)"),
        ("renouvellements", "C", "renouveler:3", "renouveler ne prend pas de motif"),
        ("renouvellements", "C", "sortie", "n'a pas de motif connu"),
        (
            "renouvellements",
            "A",
            "renouveler",
            "le dossier 'A' n'est pas dans la rubrique « Renouvellements » de la revue n° 7",
        ),
    ],
)
def test_a_wrong_cell_is_named(rubrique: str, dossier: str, text: str, problem: str) -> None:
    with pytest.raises(WorkflowError) as refused:
        from_lines(REVUE, [line(rubrique, dossier, text, n=5)], default_actor="C1")
    assert "t.csv, ligne 5 : " in str(refused.value)
    assert problem in str(refused.value)


def test_empty_cells_are_no_decision_and_two_decisions_for_one_row_are_refused() -> None:
    assert from_lines(REVUE, [line("entrees", "A", None), line("entrees", "A", "  ")], None) == []
    with pytest.raises(
        WorkflowError, match=r"t\.csv, ligne 3 : le dossier A a déjà une décision en t\.csv, ligne 2"
    ):
        from_lines(
            REVUE, [line("entrees", "A", "acter", "C1"), line("entrees", "A", "acter", "C2", n=3)], None
        )


def test_the_drop_down_lists_every_exit_reason_where_the_revue_decides_exits() -> None:
    assert choices("entrees") == ["Acter"]
    assert choices("renouvellements")[:2] == ["Renouveler", "Sortie — Emploi"]
    assert len(choices("a_debattre")) == len(ExitReason)
    assert choices("conseillers") == []


def test_a_decision_is_read_from_its_word_or_its_code() -> None:
    assert decision_code(" Sortie — Sans entrée : jamais venu ") == "sortie:sans_entree_jamais_venu"
    assert decision_code("RENOUVELER") == "renouveler"
    assert decision_code("sortie:emploi") == "sortie:emploi"
    # Every word of every drop-down list is understood as its code.
    exits = {f"sortie:{reason.value}" for reason in ExitReason}
    assert {decision_code(word) for word in choices("a_debattre")} == exits
    assert {decision_code(word) for word in choices("renouvellements")} == {"renouveler"} | exits
    assert [decision_code(word) for word in choices("entrees")] == ["acter"]
