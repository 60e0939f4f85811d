"""The two ways of writing a chunk (row by row, buffered with prefetch and COPY) give the same
tables, and a chunk whose buffered pass fails is redone row by row without losing an event."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import Base, Email, RejectedEvent
from tests.conftest import Harness, empty_tables, make_harness
from tests.factories import Story
from workflow.adapters import repositories
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application import directory
from workflow.application.ingest import CHUNK, IngestReport
from workflow.application.simulation import Simulator, make_directory
from workflow.domain import dates, effects
from workflow.domain.clock import ManualClock

START = date(2025, 1, 6)


def stream(harness: Harness) -> list[str]:
    """A year of a small agency's life, as the demo simulates it (redeliveries included), with a
    line that is not JSON and an event id reused by another event."""
    conv = harness.ctx.book.in_force("35", START)
    staff = make_directory("35", 1, 2)
    with UnitOfWork(harness.sessions) as uow:
        directory.import_rows(uow, directory.read_csv(io.StringIO(staff.csv()), "staff.csv"))
        uow.commit()
    deliveries = Simulator("35", conv.terms, staff, START, date(2025, 12, 31), seed=7).run(START)
    lines = [json.dumps(d.event, ensure_ascii=False) for d in sorted(deliveries)]
    reused = {**json.loads(lines[5]), "type": "radiation", "ft_identifier": "35X"}
    return [*lines[:40], "{not json", json.dumps(reused), *lines[40:]]


SURROGATE = {Email.__table__.c.key}  # "reminder:<id>": names a surrogate id


def tables(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, surrogate ids left out (the order of inserts differs between
    the two paths, what is stored does not); the email ↔ reminder links by natural keys."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "email_reminder":
            continue
        columns = [c for c in table.columns if not (c.primary_key and c.name == "id") and c not in SURROGATE]
        rows = session.execute(select(*columns)).all()
        out[table.name] = sorted((tuple(map(repr, row)) for row in rows), key=str)
    out["email_reminder"] = sorted(
        session.execute(
            text(
                "SELECT e.recipients, e.status, r.case_id, r.kind, r.due_date FROM email_reminder l "
                "JOIN email e ON e.id = l.email_id JOIN reminder r ON r.id = l.reminder_id"
            )
        ).all()
    )
    return out


def fresh(db: Engine) -> None:
    empty_tables(db)
    if db.dialect.name == "sqlite" and "sqlite_sequence" in inspect(db).get_table_names():
        with db.begin() as conn:
            conn.execute(text("DELETE FROM sqlite_sequence"))


def run(db: Engine, buffered: bool) -> tuple[IngestReport, dict[str, list[tuple[Any, ...]]]]:
    fresh(db)
    harness = make_harness(db, ManualClock(datetime(2026, 1, 15, 8, 0, tzinfo=UTC)))
    lines = stream(harness)
    report = harness.ingest(lines, buffered=buffered)
    with harness.sessions() as session:
        return report, tables(session)


def test_row_by_row_and_buffered_chunks_write_the_same_tables(db: Engine) -> None:
    buffered_report, buffered = run(db, buffered=True)
    row_report, row_by_row = run(db, buffered=False)

    assert buffered_report.applied > CHUNK  # more than one chunk, so chunk edges are crossed
    assert buffered_report.rejected >= 2 and buffered_report.duplicates >= 1
    assert buffered_report.as_dict() == row_report.as_dict()
    assert buffered.keys() == row_by_row.keys()
    differ = [name for name in buffered if buffered[name] != row_by_row[name]]
    assert differ == []
    assert buffered["transition_log"] and buffered["reminder"] and buffered["processed_event"]


def test_a_directory_read_cut_short_leaves_no_professional_unknown_for_the_redo(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection lost while the buffered pass reads the chunk's professionals: the chunk is
    redone row by row, and its events apply, their professionals found (a read cut short once
    left them all "not in the directory", final refusals: an equivalence run caught it)."""
    story = Story()
    events = [story.orientation(), story.binome(), story.diagnostic(), story.contract(days=5)]
    read = repositories.Professionals.load
    cuts: list[int] = []

    def cut_once(self: repositories.Professionals, pids: Any) -> None:
        if not cuts:
            cuts.append(1)
            real = self.session.scalars
            self.session.scalars = lambda *a, **k: (_ for _ in ()).throw(  # type: ignore[method-assign]
                OperationalError("SELECT professional", {}, Exception("server closed the connection"))
            )
            try:
                read(self, pids)
            finally:
                self.session.scalars = real  # type: ignore[method-assign]
        read(self, pids)

    monkeypatch.setattr(repositories.Professionals, "load", cut_once)
    report = harness.ingest_events(events)
    assert cuts == [1]
    assert (report.applied, report.rejected) == (4, 0), report.rejections
    assert harness.case(story.ref).state == "contrat"


def test_a_chunk_whose_buffered_pass_fails_is_redone_row_by_row(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An effect that faults for one case: the buffered pass stops, the chunk is rolled back and
    applied again event by event, where the fault stays with its event (SQLite as PostgreSQL)."""
    good, bad = Story(), Story()
    events = [
        *(good.orientation(), good.binome(), good.diagnostic(), good.contract(days=5)),
        *(bad.orientation(), bad.binome(), bad.diagnostic(), bad.contract(days=9)),
    ]
    signed_badly = bad.day  # the day of its last event, the contract (good's is 4 days earlier)
    period_end = dates.period_end

    def faulty(start: date, months: int) -> date:
        if start == signed_badly:
            raise OSError("disk hiccup")
        return period_end(start, months)

    monkeypatch.setattr(effects, "period_end", faulty)
    with caplog.at_level(logging.WARNING, logger="workflow.application.ingest"):
        report = harness.ingest_events(events)

    assert "rejoué un à un après EffectFailed" in caplog.text
    assert (report.applied, report.rejected, report.duplicates) == (7, 1, 0)
    assert harness.case(good.ref).state == "contrat"
    assert harness.case(bad.ref).state == "diagnostic"
    [rejection] = report.rejections
    assert "erreur interne (EffectFailed)" in rejection.reason and "disk hiccup" in rejection.reason
    with harness.sessions() as session:
        stored = session.scalars(select(RejectedEvent.event_id)).all()
    assert stored == [events[-1]["event_id"]]
    triggers = [row.trigger for row in harness.log(bad.ref)]
    assert triggers == ["orienter", "affecter_binome", "poser_diagnostic"]
