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
from sqlalchemy import func, select

from models import Base
from tests.factories import Story
from tests.web.conftest import Console
from web.app import openapi_document

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


def test_a_valid_event_is_queued_a_replay_is_a_duplicate_a_bad_one_rejected(console: Console) -> None:
    fresh = Story().orientation()
    answer = api(console).post("/api/events", json=fresh)
    assert answer.status_code == 202
    assert answer.json()["results"] == [
        {"index": 0, "event_id": fresh["event_id"], "status": "accepted", "reason": None}
    ]
    assert console.queued == [([fresh], "sid-ft")]

    applied = Story().orientation()  # already applied by the workers
    console.harness.apply(applied)
    again = api(console).post("/api/events", json=applied)
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"

    broken = {**Story().orientation(), "origin": "nowhere"}
    before = stored(console)
    bad = api(console).post("/api/events", json=broken)
    assert bad.status_code == 422 and "field 'origin'" in bad.json()["detail"]
    assert stored(console) == before and len(console.queued) == 1


def test_a_batch_answers_each_event(console: Console) -> None:
    good, wrong = Story().orientation(), {"type": "contract_signed"}
    answer = api(console).post("/api/events/batch", json={"events": [good, wrong]})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["status"] == "rejected" and "missing field" in body["results"][1]["reason"]
    assert console.queued == [([good], "sid-ft")]
    too_many = api(console).post("/api/events/batch", json={"events": [good] * 501})
    assert too_many.status_code == 422 and "detail" in too_many.json()


@pytest.mark.parametrize("path", ["/api/events", "/api/events/batch"])
def test_the_api_fuzzed_from_its_own_document(console: Console, path: str) -> None:
    """schemathesis draws requests from the served OpenAPI document, conforming and not."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", console.app)
    [operation] = [op.ok() for op in schema.get_all_operations() if op.ok().path == path]
    seen: dict[int, int] = {}

    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))

    @given(case=cases)
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        before, queued = stored(console), len(console.queued)
        response = case.call(
            headers={"Authorization": f"Bearer {console.token}"}, base_url="https://testserver"
        )
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json().get("detail"), response.text  # a reason, always
            assert len(console.queued) == queued  # nothing handed to the workers
        assert stored(console) == before  # the door itself stores nothing; the workers do

    check()
    assert any(code >= 400 for code in seen), seen  # malformed requests were tried
