"""The person's rights: the export holds every table's rows about them and nothing about anyone
else; the retention leaves no personal value of an expired case and `audit verify` green."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from models import Base, Case, Person
from tests.conftest import Harness
from tests.factories import Story
from workflow.application.audit import chain
from workflow.application.audit.personal_data import (
    ABOUT_A_PERSON,
    NOT_ABOUT_A_PERSON,
    export,
    find_person,
    retention,
)
from workflow.application.inbox import receive
from workflow.application.revue.acting import apply, formality
from workflow.application.revue.production import produce
from workflow.domain.clock import PARIS, ManualClock


@pytest.fixture
def two_people(harness: Harness, clock: ManualClock) -> tuple[Story, Story]:
    """Two persons of one agency, each in every table that can hold rows about a person."""
    stories = Story(), Story()
    for story in stories:
        harness.apply(*story.until_contract())
        planned = story.appointment(kind="emploi", days=1)
        harness.apply(planned, story.outcome(planned["appointment_id"], kind="appointment_missed"))
        forbidden = story.renewal(days=1)
        forbidden["actor"] = {"id": "O67", "role": "orienteur"}
        assert harness.ingest_events([forbidden]).rejected == 1  # a rejected event and an access denial
        sent = json.dumps(story.appointment(kind="social", days=1))  # received by a door, not yet applied
        assert receive(harness.uow(), harness.ctx, [("http:si#0", sent)], "http:si").pending
    clock.set(datetime(2026, 4, 1, 8, 0, tzinfo=PARIS))
    revue = produce(harness.uow(), harness.ctx, "Strasbourg-Nord", "2026-04")
    assert revue is not None
    apply(harness.uow(), harness.ctx, revue.id, formality(revue, "C67"))
    return stories


def test_every_table_is_either_exported_or_declared_free_of_personal_data() -> None:
    assert set(Base.metadata.tables) == set(ABOUT_A_PERSON) | set(NOT_ABOUT_A_PERSON)


def test_the_export_holds_every_table_about_the_person_and_nobody_else(
    harness: Harness, two_people: tuple[Story, Story]
) -> None:
    a, b = two_people
    with harness.sessions() as s:
        data = export(s, find_person(s, a.ft))
        assert export(s, find_person(s, a.ref)) == data  # found by a case reference too
    assert [name for name, rows in data.items() if not rows] == []
    assert data["person"][0]["ft_identifier"] == a.ft
    assert [r["seq"] for r in data["transition_log"]] == [r.seq for r in harness.log(a.ref)]
    assert {r["case_reference"] for r in data["rejected_event"]} == {a.ref}
    revue_rows = data["revue"][0]["rows"]
    assert set(revue_rows) == {"entrees", "a_debattre"}
    assert {row["dossier"] for rows in revue_rows.values() for row in rows} == {a.ref}
    dumped = json.dumps(data, ensure_ascii=False)
    assert b.ref not in dumped and b.ft not in dumped


def _everything(h: Harness) -> str:
    """Every value of every table, as text."""
    with h.sessions() as s:
        return "\n".join(
            str(tuple(row)) for table in Base.metadata.sorted_tables for row in s.execute(table.select())
        )


def test_retention_pseudonymises_expired_cases_and_the_log_still_verifies(
    harness: Harness, two_people: tuple[Story, Story], clock: ManualClock
) -> None:
    a, b = two_people
    harness.apply(a.exit("emploi", days=20))
    with harness.sessions() as s:
        appointments = text("SELECT external_id FROM appointment JOIN case_file ON case_file.id = case_id "
                            "WHERE reference = :r")  # fmt: skip
        personal: list[Any] = [a.ft, *s.scalars(appointments, {"r": a.ref})]
    assert all(value in _everything(harness) for value in personal)

    clock.set(datetime(2028, 4, 1, 9, 0, tzinfo=PARIS))  # 24 months after the exit, not yet 24 months after
    assert retention(harness.uow(), harness.ctx, 24).persons == 0
    clock.set(datetime(2028, 5, 2, 9, 0, tzinfo=PARIS))
    dry = retention(harness.uow(), harness.ctx, 24, dry_run=True)
    assert (dry.persons, dry.cases, dry.appointments, dry.payloads) == (1, 1, 1, 2)  # rejected + inbox
    assert a.ft in _everything(harness)

    done = retention(harness.uow(), harness.ctx, 24)
    assert done.persons == 1
    everything = _everything(harness)
    assert [value for value in personal if value in everything] == []
    assert harness.case(a.ref).barriers == []
    assert harness.case(b.ref).barriers != [] and b.ft in everything  # still open: untouched
    with harness.sessions() as s:
        assert chain.verify_chains(s).ok
        person = s.scalar(select(Person).join(Case).where(Case.reference == a.ref))
        assert person is not None and person.pseudonymised_at is not None
    assert retention(harness.uow(), harness.ctx, 24).persons == 0
