"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from models import Base
from tests.conftest import Harness


def test_the_migrated_database_matches_the_models(db: Engine) -> None:
    with db.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_copies_of_an_event_pending_twice_before_the_order_was_kept_are_settled_as_duplicates(
    tmp_path: Path,
) -> None:
    """Before revision 0015 a copy resent while the first waited was a second pending row; the
    unique index on pending event ids needs one: the later copy is settled as a duplicate."""
    from sqlalchemy import text

    from models import make_engine
    from workflow.adapters import migrations

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrations.upgrade(engine, "0014")
    insert = text(
        "INSERT INTO inbox_event (submission, position, sender, source, event_id, payload, status, "
        "accepted_at, queued_at, attempts) VALUES ('s', :p, 'si', 'x', :e, '{}', 'pending', "
        "'2026-12-01 10:00:00', '2026-12-01 10:00:00', 0)"
    )
    with engine.begin() as conn:
        for position, event_id in enumerate(["e-1", "e-1", "e-2"]):
            conn.execute(insert, {"p": position, "e": event_id})
    migrations.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT position, status FROM inbox_event ORDER BY position")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(0, "pending"), (1, "duplicate"), (2, "pending")]


@pytest.mark.postgres(reason="heap-only updates and fill factors are PostgreSQL's")
def test_a_workers_claim_on_an_inbox_row_adds_no_index_entry(harness: Harness, db: Engine) -> None:
    """PostgreSQL: the inbox's pages keep room (fill factor 50), so the claim `take` writes on
    each row it takes is a heap-only update, not a new entry in each of the inbox's indexes."""
    from sqlalchemy import text

    from tests.factories import Story
    from workflow.adapters.inbox_rows import InboxRows
    from workflow.application.inbox import ANY_DEPARTEMENT, LEASE, receive

    stories = [Story() for _ in range(40)]
    items = [("si", json.dumps(story.orientation())) for story in stories]
    receipt = receive(harness.uow(), harness.ctx, items, "si")
    # The "xact" counters also hold what earlier transactions of the same pooled connection did
    # and the server has not yet folded into its statistics (PostgreSQL 15+): read them before
    # and after, inside one transaction, where nothing is folded.
    counters = text(
        "SELECT pg_stat_get_xact_tuples_updated('inbox_event'::regclass),"
        " pg_stat_get_xact_tuples_hot_updated('inbox_event'::regclass)"
    )
    with harness.sessions() as s, s.begin():
        updated_before, hot_before = s.execute(counters).one()
        taken = InboxRows(s).take(
            harness.ctx.clock.now(), 100, LEASE, ANY_DEPARTEMENT, every_departement=True
        )
        updated_after, hot_after = s.execute(counters).one()
    assert [row.id for row in taken] == receipt.pending
    assert (updated_after - updated_before, hot_after - hot_before) == (len(stories), len(stories))
