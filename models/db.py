"""Engine and session factory. `DATABASE_URL` picks the database.

The embedded default is a SQLite file in the working directory; production runs on
PostgreSQL (`postgresql+psycopg://…`).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///accompagnement.db"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(url: str | None = None, name: str = "accompagnement") -> Engine:
    """SQL parameters are hidden from error messages and logs: they may hold personal data.
    On PostgreSQL each connection carries `name` as its application_name (unless the URL sets
    one), so that an operator reading pg_stat_activity knows whose it is."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    named = {} if "application_name=" in url else {"application_name": name}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=named)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys are off by default in SQLite; WAL lets a reader run beside the writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
