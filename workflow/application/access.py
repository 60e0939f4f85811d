"""Access as the application checks it: who is reading, and refusals kept on record.

The rules themselves (who may fire which trigger, who may read which case) are the table of
`workflow.domain.permissions`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models import Professional
from workflow.adapters.bookkeeping import AccessDenials
from workflow.domain.errors import Forbidden


def reader(session: Session, pid: str | None) -> Professional | None:
    """The professional reading (`--as`), active and in the directory; None for the operator."""
    if pid is None:
        return None
    pro = session.get(Professional, pid)
    if pro is None or not pro.active:
        raise Forbidden(pid, "?", "read", f"{pid} n'est pas un professionnel actif de l'annuaire")
    return pro


def record(session: Session, refusal: Forbidden, at: datetime, case_reference: str | None) -> None:
    """Keep a refusal on record, in the caller's transaction (for the callers that hold a
    session, not a unit of work: the inbox's door, the console's pages)."""
    AccessDenials(session).add(refusal, at, case_reference)
