"""The scheduler's jobs and leader lock, through the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from scheduler.jobs import Jobs, SteppedDown
from scheduler.leader import LOCK_KEY, LOCK_NAME, LeaderLock
from tests.conftest import Harness
from workflow.application.audit.seals import KEY_ENV
from workflow.application.scheduled_runs import AUDIT_SEAL, QUARTERLY_INDICATORS, REMINDER_SCAN, last_run
from workflow.domain.clock import PARIS, ManualClock


def make_jobs(
    harness: Harness,
    queued: list[tuple[str, bool]],
    quarters: list[str] | None = None,
    seals: list[str] | None = None,
) -> Jobs:
    return Jobs(
        harness.uow, harness.ctx, lambda day, digest: queued.append((day, digest)), lambda a, m: None,
        (quarters if quarters is not None else []).append,
        lambda: (seals if seals is not None else []).append("seal"), lambda ids: None, lambda: True,
    )  # fmt: skip


def test_a_scheduler_back_after_six_runs_the_days_scan_once(harness: Harness, clock: ManualClock) -> None:
    queued: list[tuple[str, bool]] = []
    jobs = make_jobs(harness, queued)
    clock.set(datetime(2026, 3, 2, 5, 30, tzinfo=PARIS))
    assert jobs.catch_up() == []
    clock.set(datetime(2026, 3, 2, 9, 15, tzinfo=PARIS))  # down at 06:00, back at 09:15
    assert jobs.catch_up() == [REMINDER_SCAN, QUARTERLY_INDICATORS]
    assert jobs.catch_up() == []  # restarted again the same day
    assert not jobs.reminder_scan()  # the cron trigger, late
    clock.set(datetime(2026, 3, 3, 6, 0, tzinfo=PARIS))
    assert jobs.reminder_scan()
    assert queued == [("2026-03-02", False), ("2026-03-03", False)]
    run = last_run(harness.uow(), REMINDER_SCAN)
    assert run is not None and run.period == "2026-03-03"


def test_two_schedulers_at_once_queue_one_scan(harness: Harness, clock: ManualClock) -> None:
    queued: list[tuple[str, bool]] = []
    clock.set(datetime(2026, 3, 2, 6, 0, tzinfo=PARIS))
    schedulers = [make_jobs(harness, queued) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda jobs: jobs.reminder_scan(), schedulers))
    assert sorted(results) == [False, True]
    assert queued == [("2026-03-02", False)]


def test_the_scan_is_scheduled_at_six_paris_time(harness: Harness) -> None:
    job = make_jobs(harness, []).scheduler().get_job(REMINDER_SCAN)
    winter = job.trigger.get_next_fire_time(None, datetime(2026, 1, 15, 7, 0, tzinfo=PARIS))
    summer = job.trigger.get_next_fire_time(None, datetime(2026, 7, 15, 5, 0, tzinfo=PARIS))
    assert winter == datetime(2026, 1, 16, 6, 0, tzinfo=PARIS)
    assert summer == datetime(2026, 7, 15, 6, 0, tzinfo=PARIS)


def test_the_indicators_of_a_quarter_are_queued_once_when_it_is_over(
    harness: Harness, clock: ManualClock
) -> None:
    quarters: list[str] = []
    jobs = make_jobs(harness, [], quarters)
    clock.set(datetime(2026, 10, 1, 7, 0, tzinfo=PARIS))
    assert jobs.quarterly_indicators() == "2026-Q3"
    clock.set(datetime(2026, 10, 2, 7, 0, tzinfo=PARIS))
    assert jobs.quarterly_indicators() is None
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=PARIS))  # the scheduler was down from 1 to 3 January
    assert jobs.catch_up() == [REMINDER_SCAN, QUARTERLY_INDICATORS]
    assert quarters == ["2026-Q3", "2026-Q4"]


def test_the_log_is_sealed_every_night_once_when_the_key_is_set(
    harness: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seals: list[str] = []
    jobs = make_jobs(harness, [], [], seals)
    clock.set(datetime(2026, 7, 1, 3, 0, tzinfo=PARIS))
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert not jobs.audit_seal()  # no key: a warning, nothing queued
    monkeypatch.setenv(KEY_ENV, "operator-sealing-key-for-tests")
    assert jobs.audit_seal()
    assert not jobs.audit_seal()
    clock.set(datetime(2026, 7, 2, 9, 0, tzinfo=PARIS))  # down at 03:00: caught up
    assert AUDIT_SEAL in jobs.catch_up()
    assert seals == ["seal", "seal"]


def test_the_revues_are_looked_for_every_quarter_of_an_hour(harness: Harness) -> None:
    job = make_jobs(harness, []).scheduler().get_job("monthly-revues")
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 4, 1, 9, 31, tzinfo=PARIS))
    assert fire == datetime(2026, 4, 1, 9, 45, tzinfo=PARIS)


def test_one_scheduler_leads_the_other_waits_and_takes_over(db: Engine, database_url: str) -> None:
    leader, standby = LeaderLock(database_url), LeaderLock(database_url)
    assert leader.try_acquire()
    try:
        assert not standby.try_acquire()
    finally:
        leader.release()
    assert standby.try_acquire()
    standby.release()


@pytest.mark.postgres(reason="the advisory lock is PostgreSQL's (SQLite: a flock held by the process)")
def test_a_leader_whose_lock_connection_dies_steps_down_and_another_leads(
    harness: Harness, db: Engine, database_url: str
) -> None:
    """PostgreSQL: the advisory lock lives on one connection; terminated, it is released."""
    leader, other = LeaderLock(database_url), LeaderLock(database_url)
    assert leader.try_acquire() and leader.still_held()
    ran: list[str] = []
    jobs = Jobs(
        harness.uow, harness.ctx, lambda day, digest: ran.append(day), lambda a, m: None, lambda q: None,
        lambda: None, lambda ids: None, leading=leader.still_held,
    )  # fmt: skip
    with db.begin() as conn:
        holder = "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"
        conn.execute(text(holder), {"k": LOCK_KEY})
    assert other.try_acquire()  # the lock is free: a standby takes the lead
    try:
        with pytest.raises(SteppedDown):
            jobs.as_leader(jobs.reminder_scan)
        assert ran == [] and jobs.stepped_down  # the old leader ran nothing beside the new one
    finally:
        other.release()
        leader.release()


def test_the_sweep_wakes_workers_for_what_a_lost_message_carried(
    harness: Harness, clock: ManualClock
) -> None:
    from tests.factories import Story
    from workflow.application.inbox import STALE, Routed, drain_waiting, receive

    story = Story()
    receipt = receive(harness.uow(), harness.ctx, [("http:si#0", json.dumps(story.orientation()))], "http:si")
    queued: list[Routed] = []  # the first message was lost with the broker: nothing was queued
    jobs = Jobs(
        harness.uow, harness.ctx, lambda d, g: None, lambda a, m: None, lambda q: None, lambda: None,
        queued.append, leading=lambda: True,
    )  # fmt: skip
    assert jobs.inbox_sweep() == 0  # too early: its message may still be on its way
    clock.set(clock.now() + STALE + timedelta(seconds=1))
    assert jobs.inbox_sweep() == 1 and queued == [{"67": receipt.pending}]  # routed by its convention
    assert jobs.inbox_sweep() == 0  # woken just now: not again before STALE
    drain_waiting(harness.uow(), harness.ctx, 10, defer=False)
    assert harness.case(story.ref).state == "reperage"


def test_the_sweep_wakes_workers_for_a_deferred_event_whose_time_has_come(
    harness: Harness, clock: ManualClock
) -> None:
    from tests.factories import Story
    from workflow.application.inbox import STALE, Routed, drain_waiting, receive

    story = Story()
    receipt = receive(harness.uow(), harness.ctx, [("http:si#0", json.dumps(story.binome()))], "http:si")
    assert drain_waiting(harness.uow(), harness.ctx, 10, defer=True).ingest.deferred == 1
    queued: list[Routed] = []
    jobs = Jobs(
        harness.uow, harness.ctx, lambda d, g: None, lambda a, m: None, lambda q: None, lambda: None,
        queued.append, leading=lambda: True,
    )  # fmt: skip
    assert jobs.inbox_sweep() == 0  # deferred for 2 s: nothing to wake yet
    clock.set(clock.now() + timedelta(seconds=2))
    assert jobs.inbox_sweep() == 1 and queued == [{None: receipt.pending}]  # no known case: no route
    assert jobs.inbox_sweep() == 0
    # That wake-up was lost too (the broker restarted): once it is STALE, the sweep sends another.
    # (It was once never sent again: the row, woken after its time had come, looked woken for good.)
    clock.set(clock.now() + STALE + timedelta(seconds=1))
    assert jobs.inbox_sweep() == 1 and queued[-1] == {None: receipt.pending}
    assert jobs.inbox_sweep() == 0


@pytest.mark.postgres(reason="application_name is PostgreSQL's")
def test_the_leader_s_lock_connection_is_named_for_the_operator(db: Engine, database_url: str) -> None:
    """PostgreSQL: pg_stat_activity says whose connection holds the scheduler's lock."""
    leader = LeaderLock(database_url)
    assert leader.try_acquire()
    try:
        with db.connect() as conn:
            holder = conn.scalar(
                text("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                     "WHERE l.locktype = 'advisory' AND l.objid = :k"),
                {"k": LOCK_KEY},
            )  # fmt: skip
    finally:
        leader.release()
    assert holder == LOCK_NAME == "accompagnement-scheduler-lock"
