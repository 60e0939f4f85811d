"""Which failures a retry may cure: a property of the database and its driver, so it lives with
the adapters (the domain's own `ConcurrentUpdate` is one of them)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from workflow.domain.errors import ConcurrentUpdate

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "08000", "08003", "08006"})


def is_transient(exc: BaseException) -> bool:
    """True for failures that a retry may cure: lost connections, deadlocks, serialization
    failures, lock timeouts (SQLite's "database is locked"), concurrent updates."""
    if isinstance(exc, ConcurrentUpdate | StaleDataError | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    return False
