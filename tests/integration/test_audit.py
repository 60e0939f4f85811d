"""The audit log: chained, verified, exported, and atomic with the state change."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Harness
from tests.factories import Story
from workflow.application.audit import chain
from workflow.application.audit import export as log_export
from workflow.domain import effects
from workflow.domain.errors import EffectFailed, WorkflowError


def two_cases(h: Harness) -> tuple[Story, Story]:
    a, b = Story(), Story()
    h.apply(*a.until_contract(), *b.until_contract(), a.exit("emploi", days=40))
    return a, b


def tamper(h: Harness, sql: str, params: dict[str, Any]) -> None:
    """Change the log behind the application's back, as someone with the database's superuser
    rights would: on PostgreSQL the append-only triggers have to be switched off first."""
    with h.sessions() as s, s.begin():
        if s.bind is not None and s.bind.dialect.name == "postgresql":
            s.execute(text("SET LOCAL session_replication_role = replica"))
        s.execute(text(sql), params)


def verify(h: Harness) -> chain.VerifyReport:
    with h.sessions() as s:
        return chain.verify_chains(s)


def test_intact_chains_verify(harness: Harness) -> None:
    two_cases(harness)
    report = verify(harness)
    assert report.ok and (report.rows, report.cases) == (9, 2)


def test_an_altered_row_is_named(harness: Harness) -> None:
    a, _ = two_cases(harness)
    target = harness.log(a.ref)[2]
    tamper(harness, "UPDATE transition_log SET actor_id = 'C67B' WHERE id = :id", {"id": target.id})
    report = verify(harness)
    assert [b.log_id for b in report.breaks] == [target.id]
    assert "content does not match its hash" in str(report.breaks[0])
    assert f"case {a.ref}, seq 3" in str(report.breaks[0])


def test_a_deleted_row_is_detected(harness: Harness) -> None:
    a, _ = two_cases(harness)
    rows = harness.log(a.ref)
    tamper(harness, "DELETE FROM transition_log WHERE id = :id", {"id": rows[1].id})
    report = verify(harness)
    assert report.breaks[0].log_id == rows[2].id
    assert "sequence jumps from 1 to 3" in report.breaks[0].problem


def test_a_rehashed_row_still_breaks_the_next_link(harness: Harness) -> None:
    """Recomputing the altered row's own hash is not enough: the next row points to the old one."""
    a, _ = two_cases(harness)
    rows = harness.log(a.ref)
    forged = rows[1]
    forged.actor_id = "C67B"
    new_hash = chain.row_hash(forged)
    tamper(
        harness,
        "UPDATE transition_log SET actor_id = 'C67B', hash = :h WHERE id = :id",
        {"h": new_hash, "id": forged.id},
    )
    report = verify(harness)
    assert report.breaks[0].log_id == rows[2].id
    assert "prev_hash does not match" in report.breaks[0].problem


def test_export_filters_by_case_actor_trigger_and_dates(harness: Harness) -> None:
    a, b = two_cases(harness)
    with harness.sessions() as s:
        only_a = list(log_export.export_rows(s, log_export.LogFilter(case_reference=a.ref)))
        exits = list(log_export.export_rows(s, log_export.LogFilter(trigger="sortir")))
        march = list(
            log_export.export_rows(s, log_export.LogFilter(since=date(2026, 3, 2), until=date(2026, 3, 2)))
        )
        buffer = io.StringIO()
        written = log_export.write_export(
            log_export.export_rows(s, log_export.LogFilter(case_reference=b.ref)), buffer, "csv"
        )
    assert {r["case_reference"] for r in only_a} == {a.ref} and len(only_a) == 5
    assert [r["reason"] for r in exits] == ["emploi"]
    assert {r["trigger"] for r in march} == {"orienter"}
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert written == len(parsed) == 4
    assert json.loads(parsed[-1]["details"])["contract_start"] == "2026-03-13"


def test_a_failing_effect_leaves_no_state_change_and_no_log_row(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transitions does not undo a state change when a callback fails; the transaction does."""
    story = Story()
    harness.apply(story.orientation(), story.binome(), story.diagnostic())

    def broken(start: Any, months: int) -> Any:
        raise WorkflowError("storage hiccup while starting the contract")

    # The contract effect runs after the state moved and after contract_start was set.
    monkeypatch.setattr(effects, "period_end", broken)
    with pytest.raises(EffectFailed, match="start_contract failed after the state moved: storage hiccup"):
        harness.apply(story.contract())
    case = harness.case(story.ref)
    assert (case.state, case.contract_start) == ("diagnostic", None)
    assert len(harness.log(story.ref)) == 3
