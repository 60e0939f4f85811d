"""Who is signed in, and which system is calling: passwords, lock-out, CSRF, API tokens.

Passwords are argon2 hashes (argon2-cffi). Failed sign-ins are counted over the last
`WINDOW` (`SignInFailure`), by client address (the peer's; a proxy's `X-Forwarded-For` only when
`web serve --forwarded-allow-ips` names that proxy, so an attacker cannot pick the address a
failure is counted on): `PER_CLIENT` failures from one client lock that client out of that
account; a client that fails `CLIENT_LIMIT` times on any accounts is refused everywhere
(password spraying). An account failed `ACCOUNT_LIMIT` times from all clients together (a
distributed guess) is slowed, not locked: from a client it was never signed in from, one try per
`slowdown` (doubling with every ten failures more, up to WINDOW); from the clients its
professional signed in from before (`SignInClient`), as usual. Thus no one can lock a caseworker
out of the console from their own desk. Every failure looks the same from outside (unknown id,
wrong password, locked, slowed), so the form tells an attacker nothing.

Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous) that carry the id of a
server-side `WebSession`: sign-out revokes it, so a cookie copied before sign-out no longer
works. Each session carries a CSRF token that every form posts back. A calling system presents
`Authorization: Bearer <token>`; only the token's sha256 is stored, and a door process trusts a
token it found valid for TOKEN_TRUST seconds before asking the database again (`RecentTokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session, sessionmaker

from models import Professional
from workflow.adapters.console_accounts import ConsoleAccounts
from workflow.domain.errors import NotFound, WorkflowError
from workflow.domain.vocabulary import Partner

WINDOW = timedelta(minutes=15)
PER_CLIENT = 5  # failures of one client on one account within WINDOW: that client is locked out of it
CLIENT_LIMIT = 30  # failures of one client on any accounts within WINDOW: that client is refused
ACCOUNT_LIMIT = 100  # failures on one account from all clients within WINDOW: it is slowed for new clients
SESSION_HOURS = 8
MIN_PASSWORD = 12
_hasher = PasswordHasher()


def set_password(session: Session, pid: str, password: str, now: datetime) -> None:
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"un mot de passe a au moins {MIN_PASSWORD} caractères")
    accounts = ConsoleAccounts(session)
    if accounts.professional(pid) is None:
        raise NotFound(f"{pid} n'est pas dans l'annuaire des professionnels")
    accounts.set_password_hash(pid, _hasher.hash(password), now)


def sign_in(session: Session, pid: str, password: str, client: str, now: datetime) -> Professional | None:
    """The professional if the password is right and the client is neither locked out nor
    slowed; None otherwise, the failure counted."""
    pid, client = pid[:32], client[:64]
    accounts = ConsoleAccounts(session)
    if _locked_out(accounts, pid, client, now):
        _hasher.hash(password)  # the same time as a real check
        return None
    account = accounts.account(pid)
    pro = accounts.professional(pid)
    if account is None or pro is None or not pro.active:
        _hasher.hash(password)  # the same time as a real check: no hint that the id is unknown
        accounts.count_failure(pid, client, now)
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        accounts.count_failure(pid, client, now)
        return None
    accounts.signed_in(account, client, now)
    return pro


def slowdown(failures: int) -> timedelta:
    """How long a new client waits between two tries on an account failed `failures` times
    within WINDOW from everywhere: one second at ACCOUNT_LIMIT, doubling every ten more."""
    if failures < ACCOUNT_LIMIT:
        return timedelta(0)
    doublings = min((failures - ACCOUNT_LIMIT) // 10, 10)  # 2**10 s is beyond WINDOW already
    return min(WINDOW, timedelta(seconds=2**doublings))


def _locked_out(accounts: ConsoleAccounts, pid: str, client: str, now: datetime) -> bool:
    failures = accounts.failures(pid, client, now - WINDOW)
    if failures.pair >= PER_CLIENT or failures.by_client >= CLIENT_LIMIT:
        return True
    wait = slowdown(failures.on_account)
    if not wait or failures.last is None or accounts.is_known_client(pid, client):
        return False
    return bool(now - failures.last < wait)


def open_session(session: Session, pid: str, now: datetime) -> str:
    """A new server-side session for `pid`; returns its id, for the cookie only."""
    token = secrets.token_urlsafe(32)
    ConsoleAccounts(session).open_session(_digest(token), pid, now, now + timedelta(hours=SESSION_HOURS))
    return token


def session_user(session: Session, token: str, now: datetime) -> str | None:
    """The professional of a live session (not revoked, not expired)."""
    row = ConsoleAccounts(session).web_session(_digest(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row.professional_id


def close_session(session: Session, token: str, now: datetime) -> None:
    ConsoleAccounts(session).revoke_session(_digest(token), now)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """In constant time, on bytes: `compare_digest` refuses a str with non-ASCII characters (a
    forged token "\x80" was a 500)."""
    return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, system: str, now: datetime, partner: Partner) -> str:
    """A new token for a calling system speaking for `partner` (replacing its previous one);
    shown once."""
    token = secrets.token_urlsafe(32)
    ConsoleAccounts(session).replace_api_token(system, _digest(token), now, partner)
    return token


def create_calendar_token(session: Session, pid: str, now: datetime) -> str:
    """A new address for a professional's calendar feed (the old one stops working); shown once."""
    token = secrets.token_urlsafe(32)
    ConsoleAccounts(session).replace_calendar_feed(pid, _digest(token), now)
    return token


def calendar_owner(session: Session, token: str) -> Professional | None:
    """The active professional whose feed this token opens, if any."""
    accounts = ConsoleAccounts(session)
    row = accounts.calendar_feed(_digest(token))
    owner = accounts.professional(row.professional_id) if row is not None else None
    return owner if owner is not None and owner.active else None


@dataclass(frozen=True)
class Calling:
    """A system calling the door: its name, and whom it speaks for (None: an old token)."""

    system: str
    partner: str | None


def calling_system(session: Session, token: str) -> Calling | None:
    row = ConsoleAccounts(session).api_token(_digest(token))
    return Calling(row.system, row.partner) if row is not None and row.revoked_at is None else None


# A replaced or revoked token stops working within this many seconds in every door process: the
# price of not reading the token table on every request (a fifth of the door's time per event).
TOKEN_TRUST = 5.0


class RecentTokens:
    """The tokens this process found valid in the last TOKEN_TRUST seconds, by digest. Only valid
    tokens are kept, so guessing cannot fill the memory; an invalid one is asked every time."""

    def __init__(self, trust: float = TOKEN_TRUST, now: Callable[[], float] = time.monotonic) -> None:
        self.trust, self.now = trust, now
        self._valid: dict[str, tuple[Calling, float]] = {}

    def known(self, token: str) -> Calling | None:
        """The system this token named in the last TOKEN_TRUST seconds; None: ask `system`."""
        known = self._valid.get(_digest(token))
        return known[0] if known is not None and known[1] > self.now() else None

    def system(self, sessions: sessionmaker[Session], token: str) -> Calling | None:
        known = self.known(token)
        if known is not None:
            return known
        digest, now = _digest(token), self.now()
        with sessions() as session:
            system = calling_system(session, token)
        if system is None:
            self._valid.pop(digest, None)
        else:
            self._valid[digest] = (system, now + self.trust)
        return system
