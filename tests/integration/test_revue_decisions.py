"""Acting a revue: the formality by default, the tableau sent back (XLSX or CSV) otherwise; each
decision an audited transition carrying the revue's id, applied once; a bad file refused whole."""

from __future__ import annotations

import csv
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import Case, Revue, RevueDecision, TransitionLog
from tests.conftest import Harness
from tests.factories import Story
from tests.integration.test_revue import AGENCE, build_agency
from workflow.adapters import revue_files
from workflow.application.audit import chain
from workflow.application.deciding import decide
from workflow.application.revue.acting import DecisionOutcome, apply, formality, from_lines
from workflow.application.revue.production import produce
from workflow.domain.attempt import Actor
from workflow.domain.clock import PARIS, ManualClock
from workflow.domain.errors import TransitionRefused, WorkflowError
from workflow.domain.lifecycle import ACTER_ENTREE
from workflow.domain.vocabulary import Role


@pytest.fixture
def april(harness: Harness, clock: ManualClock) -> tuple[Revue, dict[str, Story]]:
    stories = build_agency(harness)
    clock.set(datetime(2026, 4, 1, 8, 0, tzinfo=PARIS))
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    clock.set(datetime(2026, 4, 1, 11, 30, tzinfo=PARIS))  # the revue is over: its decisions are recorded
    return revue, stories


def _decisions_count(h: Harness) -> int:
    with h.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(RevueDecision)) or 0


def _fill(xlsx: Path, sheet: str, decisions: dict[str, tuple[str, str | None]]) -> None:
    """Write decisions in a sheet of the workbook, as the secretariat does in a spreadsheet."""
    book = load_workbook(xlsx)
    ws = book[sheet]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        ref = row[header.index("Dossier")].value
        if ref in decisions:
            row[header.index("Décision")].value, row[header.index("Acteur")].value = decisions[ref]
    book.save(xlsx)


def test_the_formality_acts_every_joint_entry_and_every_exit_once(
    harness: Harness, april: tuple[Revue, dict[str, Story]]
) -> None:
    revue, s = april
    decisions = formality(revue, "R67")
    results = apply(harness.uow(), harness.ctx, revue.id, decisions)
    applied = {
        (r.decision.rubrique, r.decision.case_reference)
        for r in results
        if r.outcome == DecisionOutcome.APPLIED
    }
    assert applied == {
        ("entrees", s["entered"].ref), ("entrees", s["left"].ref), ("entrees", s["reoriented"].ref),
        ("sorties", s["left"].ref), ("sorties", s["reoriented"].ref),
    }  # fmt: skip
    assert harness.case(s["entered"].ref).entry_acted_on == date(2026, 4, 1)
    row = harness.log(s["entered"].ref)[-1]
    assert (row.trigger, row.actor_id, row.details) == (
        "acter_entree", "R67", {"revue_id": revue.id, "attempt": {"on": "2026-04-01"}}
    )  # fmt: skip
    exit_row = harness.log(s["left"].ref)[-1]
    assert (exit_row.trigger, exit_row.from_state, exit_row.to_state) == ("acter_sortie", "sortie", "sortie")
    assert harness.case(s["left"].ref).exit_acted_on == date(2026, 4, 1)

    again = apply(harness.uow(), harness.ctx, revue.id, decisions)
    assert {r.outcome for r in again} == {DecisionOutcome.ALREADY}
    assert _decisions_count(harness) == 5
    with harness.uow() as uow:
        assert chain.verify_chains(uow.session).ok


def test_an_entry_is_acted_at_a_revue_and_only_once(
    harness: Harness, april: tuple[Revue, dict[str, Story]]
) -> None:
    revue, s = april

    def act(revue_id: int | None) -> None:
        with harness.uow() as uow:
            case = uow.session.scalar(select(Case).where(Case.reference == s["entered"].ref))
            assert case is not None
            decide(uow, harness.ctx, case, ACTER_ENTREE, actor=Actor("C67", Role.CONSEILLER),
                   occurred_at=harness.ctx.clock.now(), on=date(2026, 4, 1), revue_id=revue_id)  # fmt: skip
            uow.commit()

    with pytest.raises(
        TransitionRefused, match=r"actées à la revue de portefeuille mensuelle \(convention 004 art\. 2 d"
    ):
        act(None)
    act(revue.id)
    with pytest.raises(TransitionRefused, match="l'entrée a déjà été actée le 01/04/2026"):
        act(revue.id)
    assert [r.trigger for r in harness.log(s["entered"].ref)].count(ACTER_ENTREE) == 1


def test_the_tableau_sent_back_applies_each_filled_decision_by_its_actor(
    harness: Harness, april: tuple[Revue, dict[str, Story]], tmp_path: Path
) -> None:
    revue, s = april
    xlsx, _ = revue_files.write(revue, tmp_path)
    _fill(xlsx, "Renouvellements", {s["ending"].ref: ("renouveler", "C67")})
    # The words of the drop-down list, and a code typed by hand, alike.
    _fill(xlsx, "À débattre", {s["late"].ref: ("Sortie — Sans entrée : jamais venu", None)})
    _fill(xlsx, "Entrées à acter", {s["entered"].ref: ("acter", "R67")})
    decisions = from_lines(revue, revue_files.read_back(xlsx, revue), default_actor="C67")
    assert [(d.case_reference, d.text, d.actor_id) for d in decisions] == [
        (s["entered"].ref, "acter", "R67"),
        (s["ending"].ref, "renouveler", "C67"),
        (s["late"].ref, "sortie:sans_entree_jamais_venu", "C67"),
    ]
    results = apply(harness.uow(), harness.ctx, revue.id, decisions)
    assert [r.outcome for r in results] == [DecisionOutcome.APPLIED] * 3

    ending = harness.case(s["ending"].ref)
    assert (ending.state, ending.renewal_count) == ("renouvellement", 1)
    renewal = harness.log(s["ending"].ref)[-1]
    assert renewal.details["revue_id"] == revue.id and renewal.details["decided_by"] == "commission"
    late = harness.case(s["late"].ref)
    assert (late.state, late.exit_reason, late.exit_acted_on) == (
        "sortie",
        "sans_entree_jamais_venu",
        date(2026, 4, 1),
    )
    with harness.uow() as uow:
        stored = {
            d.case_reference: (d.decision, d.actor_id) for d in uow.session.scalars(select(RevueDecision))
        }
        logged = uow.session.scalars(
            select(TransitionLog.hash).where(TransitionLog.trigger == "renouveler")
        ).all()
        record = uow.session.scalar(select(RevueDecision).where(RevueDecision.rubrique == "renouvellements"))
        assert record is not None and record.log_hash in logged
    assert stored[s["ending"].ref] == ("renouveler", "C67")

    again = apply(
        harness.uow(), harness.ctx, revue.id, from_lines(revue, revue_files.read_back(xlsx, revue), "C67")
    )
    assert {r.outcome for r in again} == {DecisionOutcome.ALREADY}


def test_the_csv_sent_back_works_too(
    harness: Harness, april: tuple[Revue, dict[str, Story]], tmp_path: Path
) -> None:
    revue, s = april
    _, table = revue_files.write(revue, tmp_path)
    lines = table.read_text(encoding="utf-8-sig").splitlines()
    ending = f"Renouvellements;{s['ending'].ref};"
    lines = [line[:-1] + "Renouveler;C67" if line.startswith(ending) else line for line in lines]
    table.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    [decision] = from_lines(revue, revue_files.read_back(table, revue), default_actor=None)
    assert (decision.case_reference, decision.text, decision.actor_id) == (
        s["ending"].ref,
        "renouveler",
        "C67",
    )
    # Re-saved by a spreadsheet with commas and without the BOM, it reads the same.
    rows = list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    with table.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    [again] = from_lines(revue, revue_files.read_back(table, revue), default_actor=None)
    assert again.text == "renouveler" and again.case_reference == s["ending"].ref


def test_a_bad_tableau_is_refused_whole_naming_each_line_and_column(
    harness: Harness, april: tuple[Revue, dict[str, Story]], tmp_path: Path
) -> None:
    revue, s = april
    xlsx, _ = revue_files.write(revue, tmp_path)
    _fill(xlsx, "Renouvellements", {s["ending"].ref: ("prolonger", "C67")})
    _fill(xlsx, "À débattre", {s["late"].ref: ("sortie:vacances", "C67")})
    _fill(xlsx, "Entrées à acter", {s["entered"].ref: ("acter", None)})
    before = [r.hash for r in harness.log(s["entered"].ref)]
    with pytest.raises(WorkflowError) as refused:
        from_lines(revue, revue_files.read_back(xlsx, revue), default_actor=None)
    message = str(refused.value)
    assert "3 problème(s), rien n'est appliqué" in message
    assert (
        "feuille « Renouvellements », ligne 2 : colonne « Décision » : 'prolonger' n'est pas une décision"
        in message
    )
    assert "'sortie:vacances' n'a pas de motif connu" in message
    assert (
        "feuille « Entrées à acter », ligne 2 : la colonne « Acteur » est vide "
        "et aucun acteur n'est donné par --by" in message
    )
    assert [r.hash for r in harness.log(s["entered"].ref)] == before
    assert _decisions_count(harness) == 0


def test_a_case_not_in_the_rubrique_or_another_revues_file_is_refused(
    harness: Harness, april: tuple[Revue, dict[str, Story]], tmp_path: Path
) -> None:
    revue, s = april
    xlsx, _ = revue_files.write(revue, tmp_path)
    book = load_workbook(xlsx)
    book["Renouvellements"].append([s["late"].ref, "C67", None, None, None, "renouveler", "C67"])
    book.save(xlsx)
    with pytest.raises(
        WorkflowError,
        match=f"ligne 3 : le dossier '{s['late'].ref}' n'est pas dans la rubrique « Renouvellements »",
    ):
        from_lines(revue, revue_files.read_back(xlsx, revue), default_actor=None)
    book["Revue"]["B2"] = "mars 2026"
    book.save(xlsx)
    with pytest.raises(
        WorkflowError, match="c'est le tableau de Strasbourg-Nord mars 2026, pas celui de la revue"
    ):
        revue_files.read_back(xlsx, revue)


def test_a_refused_decision_leaves_nothing_and_the_others_land(
    harness: Harness, april: tuple[Revue, dict[str, Story]], tmp_path: Path
) -> None:
    revue, s = april
    xlsx, _ = revue_files.write(revue, tmp_path)
    _fill(xlsx, "Entrées à acter", {s["entered"].ref: ("acter", "O67")})
    _fill(xlsx, "À débattre", {s["late"].ref: ("sortie:duree_maximale", "C67")})
    before = [r.hash for r in harness.log(s["entered"].ref)]
    results = apply(
        harness.uow(), harness.ctx, revue.id, from_lines(revue, revue_files.read_back(xlsx, revue), None)
    )
    outcome = {r.decision.case_reference: (r.outcome, r.message) for r in results}
    assert outcome[s["entered"].ref] == (
        DecisionOutcome.REFUSED,
        "l'acteur O67 est Orienteur ; cette décision revient à : Conseiller France Travail, Référent social",
    )
    # A case never entered cannot leave for the maximum duration: the guard refuses, nothing is written.
    assert outcome[s["late"].ref][0] == DecisionOutcome.REFUSED
    assert outcome[s["late"].ref][1].startswith("refus de « Sortie » dans l'état « Repérage »")
    assert harness.case(s["late"].ref).state == "reperage"
    assert [r.hash for r in harness.log(s["entered"].ref)] == before
    assert harness.case(s["entered"].ref).entry_acted_on is None
    assert _decisions_count(harness) == 0


def test_a_dry_run_changes_nothing(harness: Harness, april: tuple[Revue, dict[str, Story]]) -> None:
    revue, s = april
    results = apply(harness.uow(), harness.ctx, revue.id, formality(revue, "C67"), dry_run=True)
    assert {r.outcome for r in results} == {DecisionOutcome.PLANNED}
    assert harness.case(s["entered"].ref).entry_acted_on is None
    assert _decisions_count(harness) == 0


def test_two_secretaries_acting_at_once_apply_each_decision_once(
    harness: Harness, april: tuple[Revue, dict[str, Story]]
) -> None:
    revue, _ = april
    decisions = formality(revue, "C67")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: apply(harness.uow(), harness.ctx, revue.id, decisions), range(2)))
    outcomes = Counter(r.outcome for run in runs for r in run)
    assert outcomes == {DecisionOutcome.APPLIED: len(decisions), DecisionOutcome.ALREADY: len(decisions)}
    assert _decisions_count(harness) == len(decisions)
