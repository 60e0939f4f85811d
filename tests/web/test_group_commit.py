"""The HTTP door's group commit: concurrent requests share one transaction and one wake-up of
the workers, each answered once its row is committed; a group whose transaction fails stores
nothing and answers 503 to every request in it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from models import InboxEvent, make_engine, make_session_factory
from tests.factories import Story
from tests.web.conftest import Console
from workflow.application.inbox import Parcel, Receipt


def post_concurrently(console: Console, events: list[dict[str, Any]], hold: Callable[[], None]) -> list[Any]:
    """The first event alone, the others sent while its commit is held open (`hold` runs in the
    committer before the first group is stored), from a thread and a client each; each answer
    with whether its row was committed when the answer came."""
    door = console.app.state.web.door
    work, started, release = door.work, threading.Event(), threading.Event()

    def held(parcels: list[Parcel]) -> list[Receipt]:
        if not started.is_set():
            started.set()
            assert release.wait(20)
            hold()
        receipts: list[Receipt] = work(parcels)
        return receipts

    door.work = held
    answers: dict[int, Any] = {}

    def send(n: int) -> None:
        client = TestClient(console.app, base_url="https://testserver", raise_server_exceptions=False)
        answer = client.post(
            "/api/events", json=events[n], headers={"Authorization": f"Bearer {console.token}"}
        )
        with console.harness.sessions() as s:
            there = s.scalar(select(InboxEvent.status).where(InboxEvent.event_id == events[n]["event_id"]))
        answers[n] = (answer.status_code, there)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(events))]
    threads[0].start()
    assert started.wait(20)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 20
    while door.waiting < len(events) - 1:
        assert time.monotonic() < deadline, door.waiting
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(30)
    return [answers[n] for n in range(len(events))]


def test_concurrent_requests_share_one_commit_and_one_wake_up_each_answered_once_stored(
    console: Console,
) -> None:
    commits = committed_groups()
    events = [Story().orientation() for _ in range(8)]
    answers = post_concurrently(console, events, lambda: None)
    assert answers == [(202, "pending")] * 8  # each row committed before its answer
    door = console.app.state.web.door
    assert (door.groups, door.jobs) == (2, 8)
    assert [len(ids) for ids in console.queued] == [1, 7]  # one wake-up per group
    after = committed_groups()
    assert (after[0] - commits[0], after[1] - commits[1]) == (2, 8)  # what /metrics tells an operator


def committed_groups() -> tuple[float, float]:
    """The door's transactions and the events they stored, as its metrics count them."""
    count = REGISTRY.get_sample_value("accompagnement_http_events_per_commit_count") or 0.0
    total = REGISTRY.get_sample_value("accompagnement_http_events_per_commit_sum") or 0.0
    return count, total


def test_a_group_whose_transaction_fails_stores_nothing_and_answers_503_to_each(console: Console) -> None:
    runtime = console.app.state.web.runtime
    good = runtime.sessions

    def database_gone() -> None:
        runtime.sessions = make_session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))

    events = [Story().orientation() for _ in range(5)]
    answers = post_concurrently(console, events, database_gone)
    assert answers == [(503, None)] * 5
    assert console.queued == []
    runtime.sessions = good
    again = TestClient(console.app, base_url="https://testserver").post(
        "/api/events", json=events[0], headers={"Authorization": f"Bearer {console.token}"}
    )
    assert again.status_code == 202  # the door goes on once the database is back
