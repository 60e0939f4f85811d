"""Group commit: the requests that arrive while a commit is under way share the next one.

One request, one transaction is what made events sent one by one slow: each paid its own
round trips, its own commit (its own flush to disk) and its own wake-up of the workers. Here a
request hands its work to the one committer thread of the process and waits; the committer
takes everything that waits (up to `most`, counted in items), does it in one call (one
transaction: `inbox.receive_together`), and only then answers each request, so every answer
still means "stored". Under load the groups grow by themselves, as commits take longer.

While requests come together, the committer lingers a moment (`linger`, a few milliseconds)
for as many as the largest of its recent groups, as PostgreSQL's own `commit_delay` does: the
senders answered by one commit send their next events a little apart, and a group taken at the
first of them would cost a commit each for few. Alone (the last group held one request), a
request waits for nobody.

The thread is started by the first request and ends after `idle` seconds with nothing to do,
so an application that is no longer served leaves no thread behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

RECENT = 20  # groups remembered for the size to linger for
Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Job, Result]):
    job: Job
    size: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]


class GroupCommit(Generic[Job, Result]):
    """`await submit(job, size)`: the job's result, once `work` has done it with the others that
    were waiting (in the order they came). Should `work` raise, every job of its group gets the
    exception: none of them was committed."""

    def __init__(
        self,
        work: Callable[[list[Job]], Sequence[Result]],
        most: int = 500,
        linger: float = 0.003,
        idle: float = 5.0,
    ) -> None:
        self.work, self.most, self.linger, self.idle = work, most, linger, idle
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting: list[_Waiting[Job, Result]] = []
        self._running = False
        self.name = f"group-commit-{id(self):x}"  # its thread's
        self._recent: deque[int] = deque([1], maxlen=RECENT)  # the sizes of the last groups, in jobs
        self.groups = 0  # groups done, and the jobs they held: for the tests and the curious
        self.jobs = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for the next commit."""
        with self._lock:
            return len(self._waiting)

    async def submit(self, job: Job, size: int = 1) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        waiting = _Waiting(job, size, loop, future)
        with self._lock:
            self._waiting.append(waiting)
            if self._running:
                self._ready.notify()
            else:
                self._start()
        return await future

    def _serve(self) -> None:
        idle = False
        try:
            while (group := self._next()) is not None:
                self._do(group)
            idle = True  # `_next` said so under the lock: a request since then started another thread
        finally:
            if not idle:  # something ended this thread early: waiting requests get another one
                with self._lock:
                    self._running = False
                    if self._waiting:
                        self._start()

    def _start(self) -> None:
        """Start the committer thread (the lock held by the caller)."""
        self._running = True
        threading.Thread(target=self._serve, name=self.name, daemon=True).start()

    def _do(self, group: list[_Waiting[Job, Result]]) -> None:
        answers: list[tuple[_Waiting[Job, Result], Callable[[asyncio.Future[Any], Any], None], Any]]
        try:
            results = self.work([w.job for w in group])
            answers = [(w, _succeed, result) for w, result in zip(group, results, strict=True)]
        except BaseException as exc:  # handed to every request of the group: none was stored
            answers = [(w, _fail, exc) for w in group]
        for w, answer, value in answers:
            with contextlib.suppress(RuntimeError):  # its event loop closed: nobody waits for it
                w.loop.call_soon_threadsafe(answer, w.future, value)
        self.groups += 1
        self.jobs += len(group)

    def _next(self) -> list[_Waiting[Job, Result]] | None:
        """What waits now, up to `most` items (one job at least, whatever its size); None when
        nothing came for `idle` seconds: the thread ends."""
        with self._lock:
            if not self._waiting:
                self._ready.wait(self.idle)
            if not self._waiting:
                self._running = False
                return None
            self._linger()
            taken, size = 0, 0
            for w in self._waiting:
                if taken and size + w.size > self.most:
                    break
                taken, size = taken + 1, size + w.size
            group, self._waiting = self._waiting[:taken], self._waiting[taken:]
            self._recent.append(len(group))
            return group

    def _linger(self) -> None:
        """While requests come together, wait up to `linger` for as many as the largest recent
        group (the lock held by the caller, released while waiting)."""
        if self._recent[-1] <= 1:
            return
        target, deadline = max(self._recent), time.monotonic() + self.linger
        while len(self._waiting) < target and (left := deadline - time.monotonic()) > 0:
            self._ready.wait(left)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the client went away: its request was cancelled, its row is stored
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: Any) -> None:
    if not future.done():
        future.set_exception(exc)
