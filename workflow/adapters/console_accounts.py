"""The console's own rows: passwords, failed sign-ins and the clients each professional signed in
from, server-side sessions, the calling systems' API tokens and the calendar feeds' addresses.

The rules (how many failures lock what out, how a token is made) are `web.auth`'s; this module
only reads and writes their rows, in the caller's transaction. Only digests of the tokens and
argon2 hashes of the passwords reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import ApiToken, CalendarFeed, Professional, SignInClient, SignInFailure, WebAccount, WebSession
from workflow.domain.vocabulary import Partner


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins since a time: of this client on this account, of this client on any,
    and on this account from every client (with the latest)."""

    pair: int
    by_client: int
    on_account: int
    last: datetime | None


class ConsoleAccounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def professional(self, pid: str) -> Professional | None:
        return self.session.get(Professional, pid)

    def account(self, pid: str) -> WebAccount | None:
        return self.session.get(WebAccount, pid)

    def set_password_hash(self, pid: str, password_hash: str, now: datetime) -> None:
        """Give the account (made if need be) its new password; its failures are forgotten."""
        account = self.account(pid) or WebAccount(professional_id=pid)
        account.password_hash, account.updated_at = password_hash, now
        self.session.add(account)
        self.session.execute(delete(SignInFailure).where(SignInFailure.account == pid))

    def count_failure(self, pid: str, client: str, at: datetime) -> None:
        self.session.add(SignInFailure(account=pid, client=client, at=at))

    def failures(self, pid: str, client: str, since: datetime) -> Failures:
        recent = SignInFailure.at > since
        pair = self.session.scalar(
            select(func.count()).where(recent, SignInFailure.account == pid, SignInFailure.client == client)
        )
        by_client = self.session.scalar(select(func.count()).where(recent, SignInFailure.client == client))
        on_account, last = self.session.execute(
            select(func.count(), func.max(SignInFailure.at)).where(recent, SignInFailure.account == pid)
        ).one()
        return Failures(pair or 0, by_client or 0, on_account or 0, last)

    def is_known_client(self, pid: str, client: str) -> bool:
        """Whether the professional signed in from this client before."""
        return self.session.get(SignInClient, (pid, client)) is not None

    def signed_in(self, account: WebAccount, client: str, now: datetime) -> None:
        """A sign-in that succeeded: this client's failures on the account forgotten, the client
        remembered as the professional's, the time kept."""
        pid = account.professional_id
        self.session.execute(
            delete(SignInFailure).where(SignInFailure.account == pid, SignInFailure.client == client)
        )
        known = self.session.get(SignInClient, (pid, client))
        if known is None:
            self.session.add(SignInClient(account=pid, client=client, last_at=now))
        else:
            known.last_at = now
        account.last_login_at = now

    def open_session(self, digest: str, pid: str, now: datetime, expires_at: datetime) -> None:
        self.session.add(
            WebSession(id_sha256=digest, professional_id=pid, created_at=now, expires_at=expires_at)
        )

    def web_session(self, digest: str) -> WebSession | None:
        return self.session.get(WebSession, digest)

    def revoke_session(self, digest: str, now: datetime) -> None:
        row = self.web_session(digest)
        if row is not None and row.revoked_at is None:
            row.revoked_at = now

    def replace_api_token(self, system: str, digest: str, now: datetime, partner: Partner) -> None:
        """The system's token (made if need be) is this one from now on, not revoked."""
        row = self.session.scalar(select(ApiToken).where(ApiToken.system == system)) or ApiToken(
            system=system
        )
        row.token_sha256, row.created_at, row.revoked_at = digest, now, None
        row.partner = Partner(partner)
        self.session.add(row)

    def api_token(self, digest: str) -> ApiToken | None:
        return self.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))

    def replace_calendar_feed(self, pid: str, digest: str, now: datetime) -> None:
        """The professional's feed (made if need be) opens with this token from now on."""
        row = self.session.get(CalendarFeed, pid) or CalendarFeed(professional_id=pid)
        row.token_sha256, row.created_at = digest, now
        self.session.add(row)

    def calendar_feed(self, digest: str) -> CalendarFeed | None:
        return self.session.scalar(select(CalendarFeed).where(CalendarFeed.token_sha256 == digest))
