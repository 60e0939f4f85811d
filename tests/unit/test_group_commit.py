"""The door's group commit (`web.group_commit`): requests that wait together are done in one
call, each answered with its own result, a failure answered to every request of its group and
to no other, the size of a group bounded, and the committer thread gone when idle and back on
the next request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from web.group_commit import GroupCommit


class Gate:
    """A `work` that holds its first call until told, so that the requests sent meanwhile wait
    together for the next one; it records each call's jobs."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, jobs: list[str]) -> Sequence[str]:
        if not self.calls:
            self.first_started.set()
            assert self.release.wait(10)
        self.calls.append(jobs)
        if self.fail_on in jobs:
            raise RuntimeError(f"the database refused {self.fail_on}")
        return [job.upper() for job in jobs]


def submit_all(door: GroupCommit[str, str], jobs: list[str], gate: Gate) -> list[str | BaseException]:
    """The first job alone, then the others while the first is being done: each from a thread
    of its own with its own event loop, as uvicorn's and TestClient's requests are."""
    results: dict[str, str | BaseException] = {}

    def send(job: str) -> None:
        try:
            results[job] = asyncio.run(door.submit(job))
        except Exception as exc:
            results[job] = exc

    first = threading.Thread(target=send, args=(jobs[0],))
    first.start()
    assert gate.first_started.wait(10)
    others = [threading.Thread(target=send, args=(job,)) for job in jobs[1:]]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while door.waiting < len(jobs) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return [results[job] for job in jobs]


def test_requests_that_wait_together_share_one_call_each_answered_with_its_own_result() -> None:
    gate = Gate()
    door = GroupCommit(gate, linger=0)
    jobs = ["a", "b", "c", "d", "e"]
    assert submit_all(door, jobs, gate) == ["A", "B", "C", "D", "E"]
    assert gate.calls[0] == ["a"]
    assert sorted(gate.calls[1]) == ["b", "c", "d", "e"]
    assert (door.groups, door.jobs) == (2, 5)


def test_a_failed_call_is_answered_to_every_request_of_its_group_and_to_no_other() -> None:
    gate = Gate(fail_on="c")
    door = GroupCommit(gate, linger=0)
    results = submit_all(door, ["a", "b", "c", "d"], gate)
    assert results[0] == "A"
    assert all(isinstance(r, RuntimeError) and "refused c" in str(r) for r in results[1:]), results
    assert asyncio.run(door.submit("f")) == "F"  # the committer goes on


def test_a_group_holds_at_most_its_size_counted_in_items_and_one_job_whatever_its_size() -> None:
    sizes = {"big": 7, "a": 2, "b": 2, "c": 2}
    gate = Gate()
    door = GroupCommit(gate, most=5, linger=0)
    results: dict[str, str] = {}

    def send(job: str) -> None:
        results[job] = asyncio.run(door.submit(job, sizes.get(job, 1)))

    threads = [threading.Thread(target=send, args=(job,)) for job in ("first", "big", "a", "b", "c")]
    threads[0].start()
    assert gate.first_started.wait(10)
    for thread in threads[1:]:
        thread.start()
        while door.waiting < threads.index(thread):  # in this order
            time.sleep(0.001)
    gate.release.set()
    for thread in threads:
        thread.join(10)
    assert gate.calls == [["first"], ["big"], ["a", "b"], ["c"]]
    assert results == {job: job.upper() for job in ("first", "big", "a", "b", "c")}


def test_the_committer_lingers_for_a_group_like_the_last_but_not_for_a_request_alone() -> None:
    """After a group of several, the next group waits up to `linger` for as many; a request that
    came alone is done at once."""
    door: GroupCommit[str, str] = GroupCommit(lambda jobs: jobs, linger=0.5)
    started = time.monotonic()
    asyncio.run(door.submit("alone"))
    assert time.monotonic() - started < 0.4
    gate = Gate()
    door = GroupCommit(gate, linger=0.5)
    submit_all(door, ["a", "b", "c"], gate)  # a group of two after the first
    started = time.monotonic()
    asyncio.run(door.submit("d"))  # waits for a second request that does not come
    assert time.monotonic() - started >= 0.45


def test_the_thread_ends_when_idle_and_the_next_request_starts_another() -> None:
    door: GroupCommit[str, str] = GroupCommit(lambda jobs: [j * 2 for j in jobs], idle=0.05)
    assert asyncio.run(door.submit("x")) == "xx"
    deadline = time.monotonic() + 5
    while any(t.name == door.name and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the committer thread did not end"
        time.sleep(0.01)
    assert asyncio.run(door.submit("y")) == "yy"


def test_a_request_whose_loop_is_gone_does_not_stop_the_committer() -> None:
    gate = Gate()
    door = GroupCommit(gate, linger=0)
    loop = asyncio.new_event_loop()
    abandoned = loop.create_task(door.submit("gone"))
    loop.run_until_complete(asyncio.sleep(0.05))  # the task submitted and waits
    assert gate.first_started.wait(10)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(abandoned)
    loop.close()
    gate.release.set()
    assert asyncio.run(door.submit("next")) == "NEXT"
