"""Who is signed in, and which system is calling: passwords, lock-out, CSRF, API tokens.

Passwords are argon2 hashes (argon2-cffi). After `MAX_FAILURES` wrong passwords in a row an
account is locked for `LOCK_MINUTES`, and every failure looks the same from outside (unknown id,
wrong password, locked), so the form tells an attacker nothing. Sessions are signed cookies
(Starlette's SessionMiddleware, itsdangerous); each session carries a CSRF token that every form
posts back. A calling system presents `Authorization: Bearer <token>`; only the token's sha256 is
stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken, Professional, WebAccount
from workflow.errors import NotFound, WorkflowError

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 12
_hasher = PasswordHasher()


def set_password(session: Session, pid: str, password: str, now: datetime) -> None:
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"a password has at least {MIN_PASSWORD} characters")
    pro = session.get(Professional, pid)
    if pro is None:
        raise NotFound(f"{pid} is not in the directory of professionals")
    account = session.get(WebAccount, pid) or WebAccount(professional_id=pid, failed_attempts=0)
    account.password_hash = _hasher.hash(password)
    account.failed_attempts, account.locked_until, account.updated_at = 0, None, now
    session.add(account)


def sign_in(session: Session, pid: str, password: str, now: datetime) -> Professional | None:
    """The professional if the password is right and the account open; None otherwise (the
    failure is counted, and the account locked after too many)."""
    account = session.get(WebAccount, pid)
    pro = session.get(Professional, pid)
    if account is None or pro is None or not pro.active:
        _hasher.hash(password)  # the same time as a real check: no hint that the id is unknown
        return None
    if account.locked_until is not None and account.locked_until > now:
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed_attempts += 1
        if account.failed_attempts >= MAX_FAILURES:
            account.locked_until, account.failed_attempts = now + timedelta(minutes=LOCK_MINUTES), 0
        return None
    account.failed_attempts, account.locked_until, account.last_login_at = 0, None, now
    return pro


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, system: str, now: datetime) -> str:
    """A new token for a calling system (replacing its previous one); shown once."""
    token = secrets.token_urlsafe(32)
    row = session.scalar(select(ApiToken).where(ApiToken.system == system)) or ApiToken(system=system)
    row.token_sha256, row.created_at, row.revoked_at = _digest(token), now, None
    session.add(row)
    return token


def calling_system(session: Session, token: str) -> str | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    return row.system if row is not None and row.revoked_at is None else None
