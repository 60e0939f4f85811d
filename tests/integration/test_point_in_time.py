"""A case and a portfolio at a past day, rebuilt from the log rows in effect by then, never from
today's row; and the replay check, which rebuilds every case and compares it with its row."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Harness
from tests.factories import Story
from tests.integration.test_audit import tamper
from tests.words import bare_codes
from workflow.application.audit import replay
from workflow.application.queries.case_view import case_view
from workflow.application.queries.point_in_time import portfolio_at
from workflow.domain.errors import NotFound, WorkflowError

START = date(2026, 3, 2)  # a Monday


def lived(harness: Harness) -> Story:
    """Oriented 2 March, binôme 3 March, an appointment fixed 4 March for 11 March, diagnostic
    9 March, contract 14 March, renewal 1 September, exit 3 October."""
    story = Story(start=START)
    harness.apply(story.orientation(), story.binome())
    harness.apply(story.appointment(kind="diagnostic", days=1, in_days=7))
    harness.apply(story.diagnostic(days=5), story.contract(days=5))
    harness.apply(story.renewal(days=171), story.exit("emploi", days=32))
    return story


def view(harness: Harness, ref: str, day: date | None) -> dict[str, Any]:
    with harness.sessions() as session:
        return case_view(session, harness.ctx, ref, at=day)


def test_a_case_at_each_past_day_is_what_its_log_said_then(harness: Harness) -> None:
    story = lived(harness)
    oriented = view(harness, story.ref, START)
    assert oriented["state"] == "reperage"
    assert oriented["binome"] == {"conseiller": None, "referent_social": None}
    assert [h["trigger"] for h in oriented["history"]] == ["orienter"]
    assert oriented["appointments"] == []  # fixed on 4 March, not yet on 2 March
    assert [(r["kind"], r["due"]) for r in oriented["pending_reminders"]] == [
        ("convocation_en_retard", "2026-03-17"), ("delai_entree_depasse", "2026-03-23"),
    ]  # fmt: skip

    before_rdv = view(harness, story.ref, date(2026, 3, 5))
    assert before_rdv["binome"]["conseiller"].endswith("(C67)")
    assert [(a["kind"], a["outcome"]) for a in before_rdv["appointments"]] == [("diagnostic", "prevu")]
    assert [d["status"] for d in before_rdv["deadlines"] if d["name"].startswith("convocation")] == ["tenue"]

    signed = view(harness, story.ref, date(2026, 3, 20))
    assert signed["state"] == "contrat"
    assert (signed["dates"]["contract_start"], signed["dates"]["contract_end"]) == (
        "2026-03-14",
        "2026-09-13",
    )
    assert signed["renewals"] == 0 and signed["can_still_renew"]
    assert ("echeance_contrat", "2026-08-14") in [(r["kind"], r["due"]) for r in signed["pending_reminders"]]

    renewed = view(harness, story.ref, date(2026, 10, 2))
    assert renewed["state"] == "renouvellement"
    assert (renewed["renewals"], renewed["dates"]["contract_end"]) == (1, "2027-03-13")
    assert renewed["exit_reason"] is None

    closed = view(harness, story.ref, date(2026, 10, 3))
    assert (closed["state"], closed["exit_reason"], closed["pending_reminders"]) == ("sortie", "emploi", [])
    today = view(harness, story.ref, None)
    assert {k: v for k, v in closed.items() if k not in ("at", "person", "deadlines")} == {
        k: v for k, v in today.items() if k not in ("at", "person", "deadlines")
    }
    assert closed["replay_problems"] == []


def test_a_day_before_the_case_existed_is_said_in_french(harness: Harness) -> None:
    story = lived(harness)
    with pytest.raises(NotFound, match="n'était pas encore ouvert le 01/03/2026"):
        view(harness, story.ref, date(2026, 3, 1))


def test_the_portfolio_at_a_day_counts_open_cases_by_state_and_conseiller(harness: Harness) -> None:
    first = Story(start=START)
    harness.apply(*first.until_contract())  # contract 14 March
    second = Story(start=START)
    harness.apply(second.orientation(), second.binome())
    third = Story(start=START)
    harness.apply(third.orientation())  # no binôme yet
    harness.apply(first.exit("emploi", days=30))  # 13 April
    with harness.sessions() as session:
        march = portfolio_at(session, harness.ctx, date(2026, 3, 31), departement="67")
        april = portfolio_at(session, harness.ctx, date(2026, 4, 30), agence="Strasbourg-Nord")
        mine = portfolio_at(session, harness.ctx, date(2026, 3, 31), conseiller="C67")
    assert dict(march.by_state) == {"contrat": 1, "reperage": 2}
    assert march.target == (70, 100)
    assert march.rows() == [
        ["sans binôme", 1, 0, 0, 0, 0, ""],
        ["C67", 1, 0, 1, 0, 1, "sous la cible"],
    ]
    assert dict(april.by_state) == {"reperage": 2}
    assert mine.rows() == [["C67", 1, 0, 1, 0, 1, "sous la cible"]]
    sheet = march.csv()
    assert sheet.startswith(
        "\ufeffDate;Périmètre;Conseiller;Repérage;Diagnostic partagé;Contrat;Renouvellement"
    )
    assert "31/03/2026;département 67;C67;1;0;1;0;1;sous la cible" in sheet
    assert bare_codes(sheet) == []


def test_a_portfolio_needs_one_scope(harness: Harness) -> None:
    with (
        harness.sessions() as session,
        pytest.raises(WorkflowError, match="donnez l'un de --agency, --conseiller ou --departement"),
    ):
        portfolio_at(session, harness.ctx, START, agence="A", departement="67")


def replayed(harness: Harness) -> tuple[replay.ReplayReport, list[replay.CaseFinding]]:
    found: list[replay.CaseFinding] = []
    with harness.sessions() as session:
        return replay.replay(session, harness.ctx, found.append), found


def test_every_case_replays_from_its_log(harness: Harness) -> None:
    story = lived(harness)
    other = Story(start=START)
    harness.apply(*other.until_contract())
    harness.scan(date(2026, 9, 15))  # the contract ran out on 13 September: flagged, a logged decision
    assert harness.case(other.ref).revue_flag == "contrat_echu_sans_decision"
    assert harness.log(other.ref)[-1].trigger == "signaler_echu"
    report, found = replayed(harness)
    assert (report.cases, report.rows, report.findings, found) == (
        2, len(harness.log(story.ref)) + len(harness.log(other.ref)), 0, []
    )  # fmt: skip


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("contract_end", "'2027-12-31'", date(2027, 12, 31)),
        ("revue_flag", "'contrat_echu_sans_decision'", "contrat_echu_sans_decision"),
        ("state", "'contrat'", "contrat"),
        ("next_reminder_on", "'2026-05-05'", date(2026, 5, 5)),
    ],
)
def test_a_case_row_changed_behind_the_logs_back_is_reported(
    harness: Harness, column: str, value: str, shown: Any
) -> None:
    story = lived(harness)
    untouched = Story(start=START)
    harness.apply(*untouched.until_contract())
    with harness.sessions() as session:
        session.execute(
            text(f"UPDATE case_file SET {column} = {value} WHERE reference = :ref"), {"ref": story.ref}
        )
        session.commit()
    report, found = replayed(harness)
    assert (report.cases, report.findings) == (2, 1)
    assert [f.reference for f in found] == [story.ref]
    assert [(d.field, d.stored) for d in found[0].differences] == [(column, shown)]
    assert report.fields == {column: 1}


def test_a_log_row_that_does_not_play_again_is_reported(harness: Harness) -> None:
    """A row whose move the table does not have from the rebuilt state (an edited from_state
    and trigger: the chain would break too, `audit verify` says so; the replay says why)."""
    story = Story(start=START)
    harness.apply(*story.until_contract())
    edit = "UPDATE transition_log SET trigger = 'renouveler' WHERE case_reference = :ref AND seq = 3"
    tamper(harness, edit, {"ref": story.ref})
    _, found = replayed(harness)
    assert len(found) == 1
    assert any("ligne 3 (Renouvellement)" in p and "n'existe pas" in p for p in found[0].problems)


def test_replay_of_one_case_and_of_an_unknown_one(harness: Harness) -> None:
    story = lived(harness)
    with harness.sessions() as session:
        report = replay.replay(session, harness.ctx, lambda f: None, story.ref)
        assert (report.cases, report.ok) == (1, True)
        with pytest.raises(NotFound):
            replay.replay(session, harness.ctx, lambda f: None, "AG-67-NOPE")
