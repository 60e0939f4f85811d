"""The console on the test database: accounts for each role, a calling system's token, and a
queue that records what the HTTP door hands to the workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from models import Professional
from tests.conftest import Harness
from tests.factories import Story
from web.app import create_app
from web.auth import create_token, set_password
from workflow.domain.clock import ManualClock
from workflow.domain.vocabulary import Partner

PASSWORD = "un mot de passe assez long"
READERS = ("C67", "C67B", "R67", "O67", "S67", "S35", "AG67", "OP1")


@dataclass
class Console:
    app: FastAPI
    harness: Harness
    token: str
    mine: Story  # a case of the binôme C67 / R67
    other: Story  # a case of the binôme C67B / R67B, same agency, oriented by O67
    elsewhere: Story  # a case of Ille-et-Vilaine
    queued: list[list[int]] = field(default_factory=list)  # inbox ids handed to the workers

    def client(self, user: str | None = None) -> TestClient:
        """A browser-like client over HTTPS (the session cookie is Secure), signed in as `user`."""
        client = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        if user is not None:
            page = client.get("/connexion")
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            answer = client.post(
                "/connexion", data={"identifiant": user, "mot_de_passe": PASSWORD, "csrf": csrf}
            )
            assert answer.status_code == 303, answer.text
        return client


@pytest.fixture
def console(
    db: Engine, database_url: str, harness: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Console]:
    monkeypatch.setenv("ACCOMPAGNEMENT_WEB_SECRET", "a-test-secret-that-is-long-enough-0123456789")
    mine, other, elsewhere = Story(), Story(), Story(departement="35")
    harness.apply(*mine.until_contract(), *other.until_contract(), *elsewhere.until_contract())
    with harness.sessions() as s, s.begin():
        s.add(
            Professional(
                id="S35", role="superviseur", name="Sophie", email="s@cd35.example", departement="35"
            )
        )
        s.add(Professional(id="OP1", role="operateur", name="Omar", email="op@ag.example", departement="67"))
        s.flush()
        for pid in READERS:
            set_password(s, pid, PASSWORD, clock.now())
        token = create_token(s, "sid-ft", clock.now(), Partner.FRANCE_TRAVAIL)
    with harness.uow() as uow:
        binome = "conseiller_id = 'C67B', referent_social_id = 'R67B', orienteur_id = 'O67'"
        uow.session.execute(text(f"UPDATE case_file SET {binome} WHERE reference = :r"), {"r": other.ref})
        uow.commit()
    made = Console(create_app(database_url, clock), harness, token, mine, other, elsewhere)
    made.app.state.web.queue = lambda rows: made.queued.append([i for ids in rows.values() for i in ids])
    yield made
