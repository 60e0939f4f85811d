"""The emails written in the current transaction, kept on the session until it ends: the unit of
work hands their ids to the entry point's hook once committed, and forgets them on a rollback
(les-emplois' `on_commit`). Only the repositories that write emails register them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models import Email

_OUTBOX = "outbox"  # session.info key


def register_email(session: Session, email: Email | int) -> None:
    """Announce an email row (an ORM object, or the id of a row inserted in bulk) after commit."""
    session.info.setdefault(_OUTBOX, []).append(email)


def take_registered(session: Session) -> list[Email | int]:
    """The emails registered in the transaction, forgotten from now on."""
    taken: list[Email | int] = session.info.pop(_OUTBOX, [])
    return taken
