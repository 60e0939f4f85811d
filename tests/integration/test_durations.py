"""Durations per convention: 6 + 6 in Bas-Rhin, 9 + 3 in Ille-et-Vilaine, never twice, never past 12."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from models import ConventionVersion
from tests.conftest import Harness, make_harness
from tests.factories import Story
from workflow.adapters.convention_files import load_book
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.service_context import sync_book
from workflow.domain.errors import ConfigurationError, TransitionRefused


@pytest.mark.parametrize(
    ("departement", "first_end", "renewed_end"),
    [("67", date(2026, 9, 14), date(2027, 3, 14)), ("35", date(2026, 12, 14), date(2027, 3, 14))],
)
def test_contract_and_renewal_follow_the_convention(
    harness: Harness, departement: str, first_end: date, renewed_end: date
) -> None:
    story = Story(departement, start=date(2026, 3, 1))
    harness.apply(story.orientation(), story.binome(), story.diagnostic(), story.contract(days=8))
    case = harness.case(story.ref)
    assert case.contract_start == date(2026, 3, 15)
    assert case.contract_end == first_end
    harness.apply(story.renewal(days=120))
    case = harness.case(story.ref)
    assert (case.state, case.contract_end, case.renewal_count) == ("renouvellement", renewed_end, 1)
    assert case.contract_end == date(2027, 3, 14)  # 12 months to the day, in both conventions


@pytest.mark.parametrize("departement", ["67", "35"])
def test_no_second_renewal(harness: Harness, departement: str) -> None:
    story = Story(departement)
    harness.apply(*story.until_contract(), story.renewal(days=100))
    with pytest.raises(TransitionRefused, match="un seul renouvellement"):
        harness.apply(story.renewal(days=30))
    assert harness.case(story.ref).renewal_count == 1


@pytest.mark.parametrize("departement", ["67", "35"])
def test_a_renewal_cannot_pass_twelve_months(harness: Harness, departement: str) -> None:
    story = Story(departement)
    harness.apply(*story.until_contract())
    too_long = 7 if departement == "67" else 4
    with pytest.raises(TransitionRefused, match="au-delà du maximum de 12 mois"):
        harness.apply(story.renewal(days=100, months=too_long))
    assert harness.case(story.ref).state == "contrat"


def test_a_shorter_renewal_is_allowed(harness: Harness) -> None:
    story = Story("67", start=date(2026, 3, 1))
    harness.apply(*story.until_contract(), story.renewal(days=100, months=3))
    assert harness.case(story.ref).contract_end == date(2026, 12, 11)  # signed 12 March: 6 + 3 months


AVENANT = """
[[convention]]
code = "35"
version = "2027-avenant"
name = "Ille-et-Vilaine, avenant raccourcissant le premier contrat"
effective_from = 2027-01-01
first_contract_months = 6
renewal_months = 6
"""


def test_a_case_keeps_the_version_in_force_when_its_contract_was_signed(
    db: object, clock: object, tmp_path: Path
) -> None:
    override = tmp_path / "conventions.toml"
    override.write_text(AVENANT, encoding="utf-8")
    harness = make_harness(db, clock, override)  # type: ignore[arg-type]
    before = Story("35", start=date(2026, 12, 1))
    after = Story("35", start=date(2026, 12, 25))
    harness.apply(*before.until_contract(), *after.until_contract())
    assert harness.case(before.ref).contract_end == date(2027, 9, 11)  # signed 2026-12-12: 9 months
    assert harness.case(after.ref).contract_end == date(2027, 7, 4)  # signed 2027-01-05: 6 months
    harness.apply(before.renewal(days=200))
    assert harness.case(before.ref).contract_end == date(2027, 12, 11)  # + 3 months, the old terms


def test_a_version_pinned_by_signed_contracts_cannot_be_edited(harness: Harness, tmp_path: Path) -> None:
    story = Story("67")
    harness.apply(*story.until_contract())
    edited = tmp_path / "edit.toml"
    edited.write_text(
        '[[convention]]\ncode="67"\nversion="2021"\nname="x"\neffective_from=2021-01-01\n'
        "first_contract_months=4\n",
        encoding="utf-8",
    )
    with (
        UnitOfWork(harness.sessions) as uow,
        pytest.raises(ConfigurationError, match="ajoutez une nouvelle version"),
    ):
        sync_book(uow, load_book(edited), harness.ctx.clock)
    with harness.sessions() as session:
        row = session.scalar(select(ConventionVersion).where(ConventionVersion.code == "67"))
        assert row is not None and row.figures["first_contract_months"] == 6
