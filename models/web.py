"""Sign-in for the web console and tokens of the systems that post events (`web/`).

A professional of the directory gets a password (argon2 hash only); repeated failures from one
client lock that client out of the account for a while (`SignInFailure`). Each sign-in opens a
`WebSession`, which sign-out revokes. A calling system gets a token, of which only the sha256 is
kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class WebAccount(Base):
    __tablename__ = "web_account"

    professional_id: Mapped[str] = mapped_column(ForeignKey("professional.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(64), unique=True)  # the calling system's name
    # Whom it speaks for (`Partner`): its events may only name that partner's actors. None: a
    # token made before partners were recorded, refused until it is made again.
    partner: Mapped[str | None] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in session: the cookie carries its random id, the table its sha256. Sign-out (or
    the end of its lifetime) revokes it, so a copied cookie stops working at once."""

    __tablename__ = "web_session"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    professional_id: Mapped[str] = mapped_column(ForeignKey("professional.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInFailure(Base):
    """One failed sign-in: which account was tried, from which client, when. Counted over a
    sliding window to lock a client out of one account, to refuse a client that tries many
    accounts, and to slow the attempts on an account tried from everywhere (`web.auth`)."""

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SignInClient(Base):
    """A client address from which a professional signed in: an account tried from everywhere
    is slowed for every other client, never for these (`web.auth`), so that an attacker cannot
    lock a caseworker out of the console from their own desk."""

    __tablename__ = "sign_in_client"

    account: Mapped[str] = mapped_column(ForeignKey("professional.id"), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarFeed(Base):
    """A professional's calendar subscription (ICS): a calendar program cannot sign in, so the
    feed's address carries a random token; only its sha256 is kept. Creating a new one replaces
    the old, which stops working at once."""

    __tablename__ = "calendar_feed"

    professional_id: Mapped[str] = mapped_column(ForeignKey("professional.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
