"""Events through Celery: a real worker process on the real Redis, against the test database.

Delivery is at least once; these tests check that the effect is exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from models import Case, InboxEvent, ProcessedEvent, RejectedEvent, TransitionLog
from tasks.app import QUEUE
from tasks.events import ROUTE_ENV
from tests.conftest import Harness
from tests.factories import Story
from tests.workers import Client, Worker, flush, wait_until
from workflow.application.audit import chain

ROOT = Path(__file__).resolve().parents[2]


def count(h: Harness, table: Any) -> int:
    with h.sessions() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def stories(n: int, months_of_appointments: int = 0) -> tuple[list[Story], list[dict[str, Any]]]:
    """n cases taken to their contract, each followed by appointments (2 events a month)."""
    cases, events = [], []
    for _ in range(n):
        story = Story()
        cases.append(story)
        events.extend(story.until_contract())
        for _ in range(months_of_appointments):
            planned = story.appointment(days=10)
            events.extend([planned, story.outcome(planned["appointment_id"])])
    return cases, events


def assert_exactly_once(h: Harness, events: list[dict[str, Any]]) -> None:
    assert count(h, ProcessedEvent) == len({e["event_id"] for e in events})
    with h.sessions() as s:
        assert chain.verify_chains(s).ok
        seqs = s.execute(
            select(TransitionLog.case_id, func.count(), func.max(TransitionLog.seq)).group_by(
                TransitionLog.case_id
            )
        ).all()
    assert all(n == top for _, n, top in seqs), "a chain has a gap or a repeated seq"


def test_a_worker_says_where_it_will_write_its_files_when_it_starts(worker: Worker) -> None:
    started = worker.log.read_text(errors="replace")
    for what in ("les tableaux des revues", "les indicateurs trimestriels", "les emails"):
        line = next((line for line in started.splitlines() if what in line), None)
        assert line is not None and "non défini : dossier par défaut" in line, (what, started[-2000:])
        assert str(ROOT) in line  # an absolute path: the worker's working directory


def test_a_batch_sent_by_name_is_applied(harness: Harness, worker: Worker, broker_url: str) -> None:
    cases, events = stories(3, months_of_appointments=1)
    Client(broker_url).batch(events, "partner-si")
    wait_until(lambda: count(harness, ProcessedEvent) == len(events), what="every event applied")
    assert {harness.case(c.ref).state for c in cases} == {"contrat"}
    assert_exactly_once(harness, events)


def test_the_same_batch_delivered_twice_in_parallel_applies_once(
    harness: Harness, worker: Worker, broker_url: str
) -> None:
    _, events = stories(20, months_of_appointments=2)
    client = Client(broker_url)
    client.batch(events)
    client.batch(events)
    wait_until(lambda: count(harness, ProcessedEvent) == len(events), what="every event applied")
    wait_until(
        lambda: "succeeded" in worker.log.read_text().split("succeeded", 1)[-1], what="both tasks done"
    )
    assert_exactly_once(harness, events)
    assert count(harness, RejectedEvent) == 0
    assert count(harness, TransitionLog) == 20 * 4


def test_events_sent_one_by_one_by_name_are_applied_in_micro_batches(
    harness: Harness, worker: Worker, broker_url: str
) -> None:
    """Each `apply_event` task only stores its event; the drain tasks apply what has arrived by
    batches, so there are far fewer takings (one `claimed_at` each) than events."""
    cases, events = stories(60)  # 240 events, four per case
    # Sent round by round (every orientation, then every binôme…), as events of one case come
    # days apart: two worker processes store two tasks in either order, so two events of one
    # case sent back to back could be stored, and applied, in the wrong one.
    rounds = [events[step::4] for step in range(4)]
    client = Client(broker_url)
    for event in (e for r in rounds for e in r):
        client.send("accompagnement.apply_event", [event, "si"])
    wait_until(lambda: count(harness, ProcessedEvent) == len(events), timeout=120, what="every event applied")
    assert {harness.case(c.ref).state for c in cases} == {"contrat"}
    assert_exactly_once(harness, events)
    with harness.sessions() as s:
        takings = s.scalar(select(func.count(func.distinct(InboxEvent.claimed_at)))) or 0
        statuses = dict(s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all())
    assert statuses == {"applied": len(events)}
    assert takings <= len(events) // 4, f"{takings} takings for {len(events)} events"


def test_routed_by_departement_a_departements_events_reach_only_its_workers(
    harness: Harness, database_url: str, broker_url: str, tmp_path: Path
) -> None:
    """Routed by département, events sent one by one to the default queue are stored there, then
    carried by their département's queue (a case's later events follow its orientation, still
    waiting in the inbox): with no worker for 35 yet, the events of 35 wait while those of 67
    are applied; a worker for 35 then applies them."""

    def states(stories: list[Story]) -> list[str]:
        with harness.sessions() as session:
            query = select(Case.state).where(Case.reference.in_([s.ref for s in stories]))
            return list(session.scalars(query))

    routed = {ROUTE_ENV: "1"}
    strasbourg, rennes = [Story("67") for _ in range(3)], [Story("35") for _ in range(3)]
    lives = [s.until_contract() for s in strasbourg + rennes]
    flush(broker_url)
    default = Worker(database_url, broker_url, tmp_path / "default.log", 1, (QUEUE, f"{QUEUE}.67"), routed)
    for_35 = Worker(database_url, broker_url, tmp_path / "35.log", 1, (f"{QUEUE}.35",), routed)
    default.start()
    try:
        client = Client(broker_url)
        for step in range(4):  # round by round, as events of one case come days apart
            for events in lives:
                client.send("accompagnement.apply_event", [events[step], "si"])
        wait_until(lambda: states(strasbourg) == ["contrat"] * 3, what="67 applied")
        wait_until(lambda: count(harness, InboxEvent) == 4 * len(lives), what="every event stored")
        time.sleep(1)  # what the default worker would wrongly apply, it would have by now
        with harness.sessions() as session:
            rows = session.execute(
                select(InboxEvent.departement, InboxEvent.status, func.count()).group_by(
                    InboxEvent.departement, InboxEvent.status
                )
            ).all()
        assert sorted(rows) == [("35", "pending", 12), ("67", "applied", 12)]
        assert states(rennes) == []
        for_35.start()
        wait_until(lambda: states(rennes) == ["contrat"] * 3, what="35 applied")
    finally:
        default.stop()
        for_35.stop()
        flush(broker_url)
    assert_exactly_once(harness, [e for events in lives for e in events])
    assert count(harness, RejectedEvent) == 0


def test_one_case_hit_by_two_workers_at_once_ends_as_in_occurred_at_order(
    harness: Harness, worker: Worker, sweeper: Any, broker_url: str
) -> None:
    """The contract is sent first and may be stored first: it is deferred, not rejected, until
    the diagnostic it depends on has committed, and the sweep brings it back."""
    story = Story()
    harness.apply(story.orientation(), story.binome())
    diagnostic, contract = story.diagnostic(), story.contract()
    client = Client(broker_url)
    client.send("accompagnement.apply_event", [contract, "si-a"])
    client.send("accompagnement.apply_event", [diagnostic, "si-b"])
    wait_until(lambda: harness.case(story.ref).state == "contrat", timeout=60, what="the contract")
    assert [r.trigger for r in harness.log(story.ref)][-2:] == ["poser_diagnostic", "signer_contrat"]
    assert count(harness, RejectedEvent) == 0


def test_a_worker_killed_mid_batch_then_restarted_applies_every_event_once(
    harness: Harness, worker: Worker, sweeper: Any, broker_url: str
) -> None:
    """The dead worker's persons are freed when its claim runs out; the sweep wakes a worker."""
    _, events = stories(400, months_of_appointments=8)  # 8 000 events, committed by 500
    worker.stop()
    worker.start(visibility_timeout=600)  # longer than the batch: its message stays unacknowledged
    Client(broker_url).batch(events, "big-file")
    wait_until(lambda: count(harness, ProcessedEvent) >= 500, what="a first chunk committed")
    worker.kill()
    applied_before = count(harness, ProcessedEvent)
    assert applied_before < len(events), "the batch finished before the kill: make it longer"
    status = status_of(harness, broker_url)
    assert status.returncode == 1, status.stdout + status.stderr  # something needs an operator
    orphaned = next(line for line in status.stdout.splitlines() if line.startswith("file "))
    assert "0 en cours" in orphaned and " 0 orphelin(s)" not in orphaned  # no live worker holds it
    assert "Redis les redonne" in status.stdout
    worker.start()  # restores messages unacknowledged for 3 s: the dead worker's comes back
    wait_until(
        lambda: count(harness, ProcessedEvent) == len(events), timeout=120, what="the batch re-applied"
    )
    assert_exactly_once(harness, events)
    assert count(harness, RejectedEvent) == 0
    wait_until(lambda: status_of(harness, broker_url).returncode == 0, what="a clean status")


def status_of(harness: Harness, broker_url: str) -> subprocess.CompletedProcess[str]:
    """`accompagnement status` as an operator runs it, against the test database and broker."""
    url = harness.sessions.kw["bind"].url.render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker_url}
    return subprocess.run(
        [sys.executable, "-m", "workflow", "status"], env=env, capture_output=True, text=True, check=False
    )


def test_malformed_payloads_sent_straight_to_the_task_are_rejected_not_lost(
    harness: Harness, worker: Worker, broker_url: str
) -> None:
    story = Story()
    client = Client(broker_url)
    client.batch("not a list", "bad-si")
    client.batch(
        [1, {"type": "nope"}, {**story.orientation(), "consent": "maybe"}, story.orientation()], "bad-si"
    )
    client.send("accompagnement.apply_event", [{"event_id": "x"}, "bad-si"])
    wait_until(lambda: count(harness, RejectedEvent) == 5, what="five rejections")
    with harness.sessions() as s:
        rows = {(src, why) for src, why in s.execute(select(RejectedEvent.source, RejectedEvent.reason))}
    assert ("bad-si", "un événement est un objet JSON, pas un texte") in rows
    assert ("bad-si#1", "un événement est un objet JSON, pas un nombre") in rows
    assert ("bad-si#1", "champ 'type' manquant") in rows
    assert any(src == "bad-si#2" and why.startswith("type d'événement inconnu 'nope'") for src, why in rows)
    assert any(src == "bad-si#3" and why.startswith("champ 'consent'") for src, why in rows)
    wait_until(lambda: count(harness, Case) == 1, what="the good event applied")


def test_an_inbox_row_taken_too_often_is_parked_as_rejected(
    harness: Harness, worker: Worker, broker_url: str
) -> None:
    """As if workers had died on this row MAX_ATTEMPTS times: the next taking parks it."""
    from workflow.application.inbox import MAX_ATTEMPTS

    story = Story()
    now = harness.ctx.clock.now()
    with harness.sessions() as s, s.begin():
        row = InboxEvent(
            submission="poison-1", position=0, sender="celery:si", source="si#1",
            event_id=f"{story.ref}-1", payload=json.dumps(story.orientation()), status="pending",
            accepted_at=now, queued_at=now, attempts=MAX_ATTEMPTS,
        )  # fmt: skip
        s.add(row)
        s.flush()
        row_id = row.id
    Client(broker_url).send("accompagnement.apply_inbox", [[row_id]])  # a wake-up of an earlier version
    wait_until(lambda: count(harness, RejectedEvent) == 1, what="the parked event")
    with harness.sessions() as s:
        reason = s.scalar(select(RejectedEvent.reason))
        status = s.scalar(select(InboxEvent.status).where(InboxEvent.id == row_id))
    assert reason is not None and reason.startswith(f"mis de côté après {MAX_ATTEMPTS} prises")
    assert status == "rejected"
    assert count(harness, Case) == 0


@pytest.mark.postgres(reason="terminating a backend needs PostgreSQL")
def test_a_dropped_database_connection_is_retried(harness: Harness, worker: Worker, broker_url: str) -> None:
    """PostgreSQL only: the server ends the worker's connections in the middle of a batch.

    A connection ended between two transactions is healed in silence by the pool's pre-ping,
    so one termination may go unseen: the test ends busy connections until the worker reports
    a drop it recovered from, then checks that every event still counts exactly once."""
    _, events = stories(400, months_of_appointments=8)
    Client(broker_url).batch(events, "big-file")
    wait_until(lambda: count(harness, ProcessedEvent) >= 500, what="a first chunk committed")

    def drop_seen() -> bool:
        log = worker.log.read_text()
        return "AdminShutdown" in log and ("rejoué un à un" in log or "nouvel essai" in log)

    def terminate_until_a_drop_is_seen() -> bool:
        if drop_seen():
            return True
        with harness.sessions() as s, s.begin():
            s.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "application_name = 'acc-worker' AND state IN ('active', 'idle in transaction')"
                )
            )
        return False

    wait_until(terminate_until_a_drop_is_seen, timeout=60, what="the worker to see a dropped connection")
    # On a loaded machine the worker's log lags: several busy connections may be ended before the
    # drop shows, each a retry whose backoff doubles (1, 2, 4 … 128 s, tasks.events): give the
    # retries the time the backoff allows, not a quiet machine's (it failed once at 120 s).
    wait_until(lambda: count(harness, ProcessedEvent) == len(events), timeout=300, what="the batch retried")
    assert_exactly_once(harness, events)


def test_status_exits_1_while_events_wait_with_no_message_to_carry_them(
    harness: Harness, broker_url: str, tmp_path: Path
) -> None:
    """A broker restarted empty: the rows wait, nothing is queued. `status` says so and exits 1;
    once a wake-up is queued for them it exits 0 again, and a live worker's messages are never
    called orphaned."""
    from workflow.application.inbox import STALE, receive

    flush(broker_url)
    receipt = receive(harness.uow(), harness.ctx, [("si:1", json.dumps(Story().orientation()))], "si")
    with harness.sessions() as session:
        stale = harness.ctx.clock.now() - STALE * 3
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_(receipt.pending))
            .values(accepted_at=stale, queued_at=stale)
        )
        session.commit()

    lost = status_of(harness, broker_url)

    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert "dont 1 attendent depuis plus de 30 s sans worker réveillé pour eux" in lost.stdout
    assert "orphelins" not in lost.stdout  # no message, no orphan
    Client(broker_url).send("accompagnement.drain_inbox", ["*"])
    woken = status_of(harness, broker_url)
    assert woken.returncode == 0, woken.stdout
    assert "1 message(s) en attente" in woken.stdout
    worker = Worker(harness.sessions.kw["bind"].url.render_as_string(hide_password=False), broker_url,
                    tmp_path / "worker.log")  # fmt: skip
    worker.start()
    try:
        wait_until(lambda: harness_state(harness, receipt.pending[0]) == "applied", what="the row applied")
        done = status_of(harness, broker_url)
    finally:
        worker.stop()
    assert done.returncode == 0 and " 0 orphelin(s)" in done.stdout, done.stdout


def harness_state(harness: Harness, row_id: int) -> str:
    with harness.sessions() as session:
        return session.scalar(select(InboxEvent.status).where(InboxEvent.id == row_id)) or ""
