"""Sign-in with ProConnect, in Debian's chromium, against a real OpenID provider answering like
ProConnect (`tests/oidc/provider.mjs`: the npm package oidc-provider, installed by `.ci/run`):
an agent of the directory signs in and out (ending the session at the provider too), an agent
unknown to the directory is refused, a tampered `state` and a replayed answer are refused. And
the console's own passwords can be turned off once ProConnect signs agents in."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route
from sqlalchemy import select

from models import WebSession
from tests.conftest import Harness, service_unavailable
from tests.web.test_browser import chromium_page
from web.app import create_app
from workflow.domain.clock import ManualClock
from workflow.domain.errors import ConfigurationError

pytestmark = pytest.mark.slow  # a node process, a web server and a browser

PROVIDER = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID, CLIENT_SECRET = "accompagnement-global", "un-secret-de-client-de-test-assez-long"
CLAIRE = "claire@ft.example"  # C67 in the directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Setting:
    console: str  # the console's address
    issuer: str  # the provider's


@pytest.fixture
def setting(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setting]:
    """The provider (a node process) and the console (uvicorn in a thread), each on its port."""
    node = shutil.which("node")
    if node is None or not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        service_unavailable("the test OpenID provider (node, and `npm ci --prefix tests/oidc`)")
    port, provider_port = free_port(), free_port()
    console, issuer = f"http://localhost:{port}", f"http://127.0.0.1:{provider_port}"
    env = {**os.environ, "OIDC_PORT": str(provider_port), "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_REDIRECT_URI": f"{console}/connexion/proconnect/retour",
           "OIDC_POST_LOGOUT_URI": f"{console}/connexion"}  # fmt: skip
    process = subprocess.Popen([str(node), "provider.mjs"], cwd=PROVIDER, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                break
        else:
            raise AssertionError("the OpenID provider did not start")
        for name, value in (("ISSUER", issuer), ("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
            monkeypatch.setenv(f"ACCOMPAGNEMENT_PROCONNECT_{name}", value)
        monkeypatch.setenv("ACCOMPAGNEMENT_CONSOLE_URL", console)
        monkeypatch.setenv("ACCOMPAGNEMENT_WEB_SECRET", "a-test-secret-that-is-long-enough-0123456789")
        app = create_app(str(harness.sessions.kw["bind"].url.render_as_string(hide_password=False)))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Setting(console, issuer)
        server.should_exit = True
        thread.join(10)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def page(setting: Setting) -> Iterator[Page]:
    with chromium_page(setting.console) as opened:
        yield opened


def at_provider(page: Page, login: str) -> None:
    """oidc-provider's sign-in form (any password), then its consent form."""
    page.click("text=S'identifier avec ProConnect")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "n'importe lequel")
    page.click("button[type=submit]")
    page.wait_for_selector("button[type=submit]")
    page.click("button[type=submit]")  # the consent


def test_an_agent_of_the_directory_signs_in_and_out_with_proconnect(
    setting: Setting, page: Page, harness: Harness
) -> None:
    page.goto("/connexion")
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/connexion/proconnect/retour" in r.url else None)
    at_provider(page, CLAIRE)
    page.wait_for_url("**/dossiers")
    assert "Claire Conseillère" in page.content()
    asked = dict(parse_qsl(urlsplit(callbacks[0]).query))
    assert set(asked) >= {"code", "state"}  # the answer: a code, with the state it was given

    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(f"{setting.console}/connexion**")
    with harness.sessions() as s:
        sessions = s.scalars(select(WebSession).where(WebSession.professional_id == "C67")).all()
    assert len(sessions) == 1 and sessions[0].revoked_at is not None
    page.goto("/dossiers")
    page.wait_for_url("**/connexion**")  # signed out here
    page.click("text=S'identifier avec ProConnect")
    page.wait_for_selector("input[name=login]")  # and at the provider: it asks again


def test_an_agent_unknown_to_the_directory_is_refused_in_french(setting: Setting, page: Page) -> None:
    page.goto("/connexion")
    at_provider(page, "inconnu@ft.example")
    page.wait_for_selector("text=Aucun professionnel actif de l'annuaire n'a l'adresse inconnu@ft.example")
    page.goto("/dossiers")
    page.wait_for_url("**/connexion**")


def test_a_tampered_state_and_a_replayed_answer_are_refused(setting: Setting, page: Page) -> None:
    """The state the console gives the browser is changed on its way to the provider, which
    sends it back as given: the console refuses the answer. Then a true answer, sent twice."""

    def tamper(route: Route) -> None:
        sent = route.fetch(max_redirects=0)  # the console's redirect to the provider, not followed
        to = urlsplit(sent.headers["location"])
        params = dict(parse_qsl(to.query))
        forged = to._replace(query=urlencode({**params, "state": params["state"][::-1]})).geturl()
        route.fulfill(response=sent, headers={**sent.headers, "location": forged})

    page.goto("/connexion")
    page.route("**/connexion/proconnect?**", tamper)
    answers: list[str] = []
    page.on("request", lambda r: answers.append(r.url) if "/connexion/proconnect/retour" in r.url else None)
    at_provider(page, CLAIRE)
    page.wait_for_selector("text=La connexion par ProConnect n'a pas abouti")
    assert len(answers) == 1
    page.unroute("**/connexion/proconnect?**")
    page.goto("/dossiers")
    page.wait_for_url("**/connexion**")  # not signed in

    # A true answer, once, then again: the second is refused (its state was spent). The agent is
    # signed in at the provider already: it answers at once.
    page.goto("/connexion")
    page.click("text=S'identifier avec ProConnect")
    page.wait_for_url("**/dossiers")
    replayed = page.goto(answers[-1])
    assert replayed is not None and replayed.status == 400


def test_the_console_s_passwords_can_be_turned_off_once_proconnect_signs_in(
    harness: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = harness.sessions.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("ACCOMPAGNEMENT_WEB_SECRET", "a-test-secret-that-is-long-enough-0123456789")
    monkeypatch.setenv("ACCOMPAGNEMENT_LOCAL_PASSWORDS", "0")
    with pytest.raises(ConfigurationError, match="demande ProConnect"):
        create_app(url, clock)  # no one could sign in
    monkeypatch.setenv("ACCOMPAGNEMENT_PROCONNECT_ISSUER", "https://proconnect.example/api/v2")
    client = TestClient(create_app(url, clock), base_url="https://testserver")
    page = client.get("/connexion").text
    assert "S'identifier avec ProConnect" in page and 'name="mot_de_passe"' not in page
    refused = client.post("/connexion", data={"identifiant": "C67", "mot_de_passe": "x" * 20, "csrf": "x"})
    assert refused.status_code == 403 and "connectez-vous avec ProConnect" in refused.text
