"""One leading scheduler per database: the others wait, and take over if the leader dies.

APScheduler 3's job stores must never be shared between schedulers (its FAQ), so each process
keeps its jobs in memory and only the leader runs them. PostgreSQL: a session-level advisory
lock on a connection the leader keeps open; PostgreSQL releases it when that connection ends,
crash included. SQLite: an exclusive `flock` on a file beside the database, released by the
kernel when the process ends. Even if the lock failed, a job runs once per period: the
`scheduled_run` row is unique (`workflow.application.scheduled_runs`).

A lock can also be lost while the process lives: the PostgreSQL connection terminated (an
administrator, a failover, a network cut) releases the advisory lock and another scheduler takes
it. `still_held` asks PostgreSQL on that very connection; the jobs call it before each run and
step down when it says no.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import IO, Any

from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from models import make_engine

LOCK_KEY = 0x5343_4845  # "SCHE"
LOCK_NAME = "accompagnement-scheduler-lock"  # the lock connection's application_name


class LeaderLock:
    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: Any = None
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "postgresql":
            engine = make_engine(self.url, LOCK_NAME)
            connection = engine.connect()
            if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}):
                connection.commit()
                self._connection = connection
                return True
            connection.close()
            engine.dispose()
            return False
        path = Path(f"{parsed.database or 'accompagnement.db'}.scheduler.lock")
        handle = path.open("wb")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """True while this process holds the lock (asked of the lock's own connection)."""
        if self._file is not None:
            return True  # a flock lives as long as the open file, that is the process
        if self._connection is None:
            return False
        try:
            held = self._connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": LOCK_KEY},
            )
            self._connection.commit()
        except DBAPIError:
            held = 0
        if not held:
            self.release()
        return bool(held)

    def release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(DBAPIError):  # already gone, and the lock with it
                connection.close()
            connection.engine.dispose()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
