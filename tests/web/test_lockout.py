"""No one can lock a caseworker out of the console: not by writing X-Forwarded-For, not from a
hundred real addresses. Through `accompagnement web serve` itself (uvicorn decides which address
a request comes from), each client bound to its own loopback address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from models import SignInFailure
from tests.web.conftest import PASSWORD, Console
from tests.workers import answering
from web import auth

pytestmark = pytest.mark.slow  # web serve, and hundreds of sign-ins hashed with argon2

ROOT = Path(__file__).resolve().parents[2]
CASEWORKER = "127.0.0.2"  # the caseworker's own desk


def _serve(database_url: str, *options: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ACCOMPAGNEMENT_WEB_SECRET": "lockout-" + "s" * 40,
           "ACCOMPAGNEMENT_WEB_SECURE_COOKIES": "0"}  # fmt: skip
    env.pop("CELERY_BROKER_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "workflow", "--database-url", database_url, "web", "serve",
         "--port", str(port), *options],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        answering(f"{base}/connexion", server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _sign_in(base: str, source: str, password: str, forwarded: str | None = None) -> bool:
    """One sign-in of C67 from the loopback address `source`: True if it opened a session."""
    transport = httpx.HTTPTransport(local_address=source)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with httpx.Client(base_url=base, transport=transport, headers=headers, timeout=30) as client:
        page = client.get("/connexion")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        form = {"identifiant": "C67", "mot_de_passe": password, "csrf": csrf}
        answer = client.post("/connexion", data=form)
        return answer.status_code == 303 and answer.headers["location"] == "/dossiers"


@pytest.fixture
def door(console: Console, database_url: str) -> Iterator[str]:
    yield from _serve(database_url)


@pytest.fixture
def proxied(console: Console, database_url: str) -> Iterator[str]:
    yield from _serve(database_url, "--forwarded-allow-ips", "127.0.0.1")


def test_spoofed_forwarded_addresses_cannot_lock_the_caseworker_out(door: str) -> None:
    assert _sign_in(door, CASEWORKER, PASSWORD)  # their desk, known
    for n in range(100):
        assert not _sign_in(door, "127.0.0.1", "wrong password", forwarded=f"203.0.113.{n}")
    assert _sign_in(door, CASEWORKER, PASSWORD)
    # The header was not believed: every failure was counted on the attacker's real address,
    # which is locked out of the account, even with the right password.
    assert not _sign_in(door, "127.0.0.1", PASSWORD, forwarded="198.51.100.7")


def test_a_hundred_real_addresses_slow_new_clients_but_never_the_caseworker_s_own(door: str) -> None:
    assert _sign_in(door, CASEWORKER, PASSWORD)
    for n in range(100):
        assert not _sign_in(door, f"127.0.1.{n // 5 + 1}", "wrong password")
    assert _sign_in(door, CASEWORKER, PASSWORD)


def test_behind_a_named_proxy_the_forwarded_address_is_the_client(proxied: str) -> None:
    """The proxy (127.0.0.1) forwards the caseworker's address: it is theirs that counts."""
    assert _sign_in(proxied, "127.0.0.1", PASSWORD, forwarded="192.0.2.10")
    for n in range(100):
        assert not _sign_in(proxied, "127.0.0.1", "wrong password", forwarded=f"203.0.113.{n // 5}")
    assert _sign_in(proxied, "127.0.0.1", PASSWORD, forwarded="192.0.2.10")
    assert not _sign_in(proxied, "127.0.0.1", PASSWORD, forwarded="203.0.113.1")  # locked out of it


def test_an_account_tried_from_everywhere_slows_new_clients_then_lets_them_through(console: Console) -> None:
    """The account-wide limit delays a client it never saw, by a doubling wait, instead of a lock."""
    h = console.harness
    now = h.ctx.clock.now()
    with h.sessions() as s, s.begin():
        assert auth.sign_in(s, "C67", PASSWORD, "desk", now) is not None
        for n in range(auth.ACCOUNT_LIMIT + 10):  # the ten last ones are slowed: not even tried
            assert auth.sign_in(s, "C67", "wrong password", f"bot-{n // 4}", now) is None
        tried = s.scalar(
            select(func.count()).select_from(SignInFailure).where(SignInFailure.account == "C67")
        )
        assert tried == auth.ACCOUNT_LIMIT
        half = now + timedelta(milliseconds=500)
        assert auth.sign_in(s, "C67", PASSWORD, "laptop", half) is None  # slowed: one try a second
        assert auth.sign_in(s, "C67", PASSWORD, "desk", half) is not None  # their desk: as usual
        assert auth.sign_in(s, "C67", PASSWORD, "laptop", now + timedelta(seconds=1)) is not None
    assert auth.slowdown(auth.ACCOUNT_LIMIT + 10) == timedelta(seconds=2)
    assert auth.slowdown(auth.ACCOUNT_LIMIT - 1) == timedelta(0)
    assert auth.slowdown(10_000) == auth.WINDOW
