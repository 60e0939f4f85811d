"""The HTTP door for events: token, answers per event, the OpenAPI document kept in the
repository, and the API fuzzed from that document (schemathesis): no 500, every malformed
request answered 4xx with a reason, nothing stored from a rejected request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from sqlalchemy import func, select, update

from models import AccessDenial, ApiToken, Base, InboxEvent, ProcessedEvent, RejectedEvent
from tests.factories import Story
from tests.web.conftest import Console
from web.app import openapi_document
from web.auth import RecentTokens, create_token
from workflow.application.inbox import drain_waiting
from workflow.domain.vocabulary import Partner

ROOT = Path(__file__).resolve().parents[2]


def api(console: Console, token: str | None = None) -> TestClient:
    client = TestClient(console.app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {token or console.token}"
    return client


def stored(console: Console) -> dict[str, int]:
    with console.harness.sessions() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def test_the_committed_openapi_document_is_current() -> None:
    assert json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")) == openapi_document()


def test_a_caller_needs_a_valid_token(console: Console) -> None:
    event = Story().orientation()
    assert api(console, "not-a-token").post("/api/events", json=event).status_code == 401
    bare = TestClient(console.app, base_url="https://testserver")
    refused = bare.post("/api/events", json=event)
    assert refused.status_code == 401 and "Bearer" in refused.json()["detail"]
    assert console.queued == []


def test_a_replaced_token_stops_working_once_the_door_s_trust_in_it_runs_out(console: Console) -> None:
    """A door trusts a token it checked for TOKEN_TRUST seconds, then asks the database again."""
    moments = [0.0]
    console.app.state.web.tokens = RecentTokens(trust=5.0, now=lambda: moments[0])
    client = api(console)
    assert client.post("/api/events", json=Story().orientation()).status_code == 202
    with console.harness.sessions() as s, s.begin():
        new = create_token(
            s, "sid-ft", console.harness.ctx.clock.now(), Partner.FRANCE_TRAVAIL
        )  # replaces the old one
    moments[0] = 4.9
    assert client.post("/api/events", json=Story().orientation()).status_code == 202  # still trusted
    moments[0] = 5.1
    assert client.post("/api/events", json=Story().orientation()).status_code == 401
    assert api(console, new).post("/api/events", json=Story().orientation()).status_code == 202


def test_a_malformed_body_is_refused_with_its_reason_and_never_echoed(console: Console) -> None:
    """A value JSON cannot write back (Infinity) in a body of the wrong shape: 422, not a 500
    from echoing it, with the reason as one line, as documented."""
    for body in (b"[{}, Infinity]", b'{"events": NaN}', b'{"events": [1e999]}'):
        for path in ("/api/events", "/api/events/batch"):
            answer = api(console).post(path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422, (path, body, answer.text)
            detail = answer.json()["detail"]
            assert isinstance(detail, str) and detail, detail
            assert "Infinity" not in detail and "NaN" not in detail


def inbox(console: Console, ids: list[int]) -> list[tuple[str | None, str]]:
    """(event_id, status) of inbox rows, in id order."""
    with console.harness.sessions() as s:
        rows = s.execute(
            select(InboxEvent.event_id, InboxEvent.status)
            .where(InboxEvent.id.in_(ids))
            .order_by(InboxEvent.id)
        )
        return [(e, st) for e, st in rows]


def drain_queued(console: Console) -> None:
    """What a worker does when the door wakes it: it takes what may be applied now."""
    if console.queued:
        drain_waiting(console.harness.uow(), console.harness.ctx, 10_000, defer=False)


def test_a_valid_event_is_stored_then_queued_a_replay_is_a_duplicate_a_bad_one_rejected(
    console: Console,
) -> None:
    fresh = Story().orientation()
    answer = api(console).post("/api/events", json=fresh)
    assert answer.status_code == 202
    assert answer.json()["results"] == [
        {"index": 0, "event_id": fresh["event_id"], "status": "accepted", "reason": None}
    ]
    [ids] = console.queued
    assert inbox(console, ids) == [(fresh["event_id"], "pending")]  # stored before the answer

    applied = Story().orientation()  # already applied by the workers
    console.harness.apply(applied)
    again = api(console).post("/api/events", json=applied)
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"

    broken = {**Story().orientation(), "origin": "nowhere"}
    bad = api(console).post("/api/events", json=broken)
    assert bad.status_code == 422 and "champ 'origin'" in bad.json()["detail"]
    assert len(console.queued) == 1  # neither the duplicate nor the rejection goes to the workers
    with console.harness.sessions() as s:
        reasons = s.scalars(select(RejectedEvent.reason).where(RejectedEvent.event_id == broken["event_id"]))
        assert ["champ 'origin'" in r for r in reasons] == [True]  # kept for the operator too


def test_an_event_sent_again_while_its_first_copy_waits_is_a_duplicate(console: Console) -> None:
    """A sender that resends (a timeout on its side) before the workers applied the first copy is
    told duplicate, at the door and when it asks; the rules never see the copy, nothing is
    rejected, and the event is applied once."""
    event = Story().orientation()
    client = api(console)
    assert client.post("/api/events", json=event).status_code == 202
    again = client.post("/api/events", json=event)
    assert again.status_code == 200
    [answer] = again.json()["results"]
    assert answer["status"] == "duplicate" and "pas encore appliqué" in answer["reason"]
    assert client.get(f"/api/events/{event['event_id']}").json()["status"] == "duplicate"
    drain_queued(console)
    with console.harness.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RejectedEvent)) == 0
        applied = select(func.count()).where(ProcessedEvent.event_id == event["event_id"])
        assert s.scalar(applied) == 1  # (the console's fixture applied its own cases before)


def test_a_batch_answers_each_event(console: Console) -> None:
    good, wrong = Story().orientation(), {"type": "contract_signed"}
    answer = api(console).post("/api/events/batch", json={"events": [good, wrong]})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["status"] == "rejected" and "manquant" in body["results"][1]["reason"]
    [ids] = console.queued
    assert inbox(console, ids) == [(good["event_id"], "pending")]
    too_many = api(console).post("/api/events/batch", json={"events": [good] * 501})
    assert too_many.status_code == 422 and "detail" in too_many.json()


def test_a_sender_learns_what_became_of_its_event_and_only_of_its_own(console: Console) -> None:
    story = Story()
    orientation, contract = story.orientation(), story.contract()
    client = api(console)
    assert client.post("/api/events/batch", json={"events": [orientation, contract]}).status_code == 200
    pending = client.get(f"/api/events/{orientation['event_id']}").json()
    assert (pending["status"], pending["settled_at"]) == ("pending", None)

    drain_queued(console)
    applied = client.get(f"/api/events/{orientation['event_id']}").json()
    assert (applied["status"], applied["case_reference"], applied["state"]) == (
        "applied",
        story.ref,
        "reperage",
    )
    refused = client.get(f"/api/events/{contract['event_id']}").json()
    assert refused["status"] == "rejected" and "refus de « Signature du contrat »" in refused["reason"]

    with console.harness.sessions() as s, s.begin():
        other = create_token(s, "other-si", console.harness.ctx.clock.now(), Partner.FRANCE_TRAVAIL)
    unknown = api(console, other).get(f"/api/events/{orientation['event_id']}")
    assert unknown.status_code == 404 and "other-si" in unknown.json()["detail"]
    assert client.get("/api/events/never-sent").status_code == 404


@pytest.mark.parametrize("path", ["/api/events", "/api/events/batch", "/api/events/{event_id}"])
def test_the_api_fuzzed_from_its_own_document(console: Console, path: str) -> None:
    """schemathesis draws requests from the served OpenAPI document, conforming and not. Every
    answered event is stored once in the inbox; a malformed request stores nothing."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", console.app)
    found = [op.ok() for op in schema.get_all_operations() if isinstance(op, Ok)]
    [operation] = [op for op in found if op.path == path]
    seen: dict[int, int] = {}

    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))

    @given(case=cases)
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        before, queued = stored(console), sum(map(len, console.queued))
        response = case.call(
            headers={"Authorization": f"Bearer {console.token}"}, base_url="https://testserver"
        )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text
        after = stored(console)
        grew = {name: after[name] - before[name] for name in after if after[name] != before[name]}
        if response.status_code >= 400:
            assert response.json().get("detail"), response.text  # a reason, always
            assert sum(map(len, console.queued)) == queued  # nothing handed to the workers
            # An event refused alone is kept (inbox row and rejection); a malformed request, nothing.
            assert grew in ({}, {"inbox_event": 1, "rejected_event": 1}, {"inbox_event": 1}), grew
        elif case.method == "POST":
            body = response.json()
            assert grew.get("inbox_event") == len(body["results"])
            assert sum(map(len, console.queued)) - queued == body["accepted"]
        else:
            assert grew == {}

    check()
    assert any(code >= 400 for code in seen), seen  # malformed requests were tried


def test_a_database_out_of_reach_is_a_503_to_try_again_not_a_crash(console: Console) -> None:
    from models import make_engine, make_session_factory

    console.app.state.web.runtime.sessions = make_session_factory(
        make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    )
    answer = TestClient(console.app, base_url="https://testserver", raise_server_exceptions=False).post(
        "/api/events", json=Story().orientation(), headers={"Authorization": f"Bearer {console.token}"}
    )
    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert "indisponible" in answer.json()["detail"]


def test_a_system_only_sends_the_actors_of_the_partner_it_speaks_for(console: Console) -> None:
    """France Travail's system cannot post a social worker's decision, the Département's cannot
    post a conseiller's; each refusal is a rejection with a French reason, and kept."""
    with console.harness.sessions() as s, s.begin():
        departement = create_token(s, "si-cd67", console.harness.ctx.clock.now(), Partner.DEPARTEMENT)
    story = Story()
    opening = story.orientation()
    assert api(console).post("/api/events", json=opening).status_code == 202
    binome = story.binome()
    binome["actor"] = {"id": "R67", "role": "referent_social"}
    refused = api(console).post("/api/events", json=binome)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "le système sid-ft parle pour France Travail : il ne peut pas envoyer un événement de R67 "
        "(referent_social)"
    )
    by_conseiller = story.binome()
    refused = api(console, departement).post("/api/events", json=by_conseiller)
    assert refused.status_code == 422 and "parle pour le Département" in refused.json()["detail"]
    assert (
        api(console, departement).post("/api/events", json={**binome, "event_id": "cd-1"}).status_code == 202
    )
    with console.harness.sessions() as s:
        denials = s.execute(
            select(AccessDenial.actor_id, AccessDenial.action, AccessDenial.case_reference)
        ).all()
        rejected = s.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "rejected")
        )
    assert sorted(tuple(d) for d in denials) == [
        ("C67", "envoyer binome_assigned", story.ref),
        ("R67", "envoyer binome_assigned", story.ref),
    ]
    assert rejected == 2


def test_a_token_that_speaks_for_no_partner_is_refused_until_made_again(console: Console) -> None:
    with console.harness.sessions() as s, s.begin():
        old = create_token(s, "old-si", console.harness.ctx.clock.now(), Partner.FRANCE_TRAVAIL)
        s.execute(update(ApiToken).where(ApiToken.system == "old-si").values(partner=None))
    refused = api(console, old).post("/api/events", json=Story().orientation())
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("le jeton du système old-si ne dit pas pour quel partenaire")
