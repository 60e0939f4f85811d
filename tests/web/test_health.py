"""What an operator's tools ask the door: `/healthz`, `/readyz` (each dependency, French when
wrong) and `/metrics` (the door's and the workers' counts, and the database's gauges), in
process. `tests/integration/test_prometheus.py` scrapes the real processes with a real Prometheus."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tasks.events import drain_inbox
from tests.factories import Story
from tests.web.conftest import Console
from web.auth import create_token
from workflow.domain.vocabulary import Partner


def scraped(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_door_is_alive_and_ready_when_its_database_is_at_the_schema_head(console: Console) -> None:
    client = TestClient(console.app, base_url="https://testserver")
    assert client.get("/healthz").json() == {"status": "ok"}
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, "checks": {"database": "ok", "schema": "ok", "broker": "ok"}}


def test_a_schema_behind_the_code_makes_the_door_not_ready_and_says_what_to_run(console: Console) -> None:
    engine = console.app.state.web.runtime.engine
    with engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answer = TestClient(console.app, base_url="https://testserver").get("/readyz")
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert answer.status_code == 503
    assert answer.json()["checks"]["schema"] == (
        "schéma en retard sur le code : lancer « accompagnement db upgrade »"
    )


def test_a_database_out_of_reach_makes_the_door_not_ready_but_still_alive(console: Console) -> None:
    runtime = console.app.state.web.runtime
    kept, runtime.engine = runtime.engine, create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        client = TestClient(console.app, base_url="https://testserver")
        alive, ready = client.get("/healthz"), client.get("/readyz")
    finally:
        runtime.engine.dispose()
        runtime.engine = kept
    assert alive.status_code == 200
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "base de données injoignable (OperationalError)"
    assert "schema" not in checks  # not asked of a database that does not answer


def test_metrics_count_every_event_at_the_door_then_at_the_worker(
    console: Console, task_runtime: None
) -> None:
    """One event accepted then applied, a second copy refused as a duplicate at the door, an
    unreadable one rejected there: the counts add up, by door, outcome and type; the inbox
    gauge shows the waiting row until a worker applied it; the request was timed."""
    client = TestClient(console.app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {console.token}"
    before = scraped(client)
    event = Story().orientation()
    answer = client.post("/api/events/batch", json={"events": [event, event, {"type": 3}]})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["duplicates"], answer.json()["rejected"]) == (1, 1, 1)
    waiting = scraped(client)

    def grew(
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
    ) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    assert grew(waiting, "accompagnement_events_accepted_total", door="http") == 1
    assert grew(waiting, "accompagnement_events_total", door="http", outcome="duplicate",
                type="orientation_proposed") == 1  # fmt: skip
    assert (
        grew(waiting, "accompagnement_events_total", door="http", outcome="rejected", type="illisible") == 1
    )
    assert value(waiting, "accompagnement_inbox_pending_rows", state="all") == 1
    assert value(waiting, "accompagnement_inbox_oldest_pending_age_seconds") >= 0
    timed = ("accompagnement_http_request_duration_seconds_count", "/api/events/batch")
    assert grew(waiting, timed[0], method="POST", route=timed[1], status="200") == 1

    drain_inbox.apply()  # a worker's drain, in this process
    done = scraped(client)
    applied = {"door": "http", "outcome": "applied", "type": "orientation_proposed"}
    assert grew(done, "accompagnement_events_total", **applied) == 1
    assert grew(done, "accompagnement_event_apply_delay_seconds_count") == 1
    assert value(done, "accompagnement_inbox_pending_rows", state="all") == 0


def test_metrics_name_no_person_and_no_value_of_a_request(console: Console) -> None:
    """Routes are counted by their template: an event id in a path never becomes a label."""
    client = TestClient(console.app, base_url="https://testserver")
    with console.harness.sessions() as s, s.begin():
        token = create_token(s, "sid-trace", console.harness.ctx.clock.now(), Partner.FRANCE_TRAVAIL)
    client.headers["Authorization"] = f"Bearer {token}"
    client.get("/api/events/EV-PERSONNE-123")
    page = client.get("/metrics").text
    assert "EV-PERSONNE-123" not in page and 'route="/api/events/{event_id}"' in page
    assert console.mine.ref not in page and console.mine.ft not in page
    json.dumps(page)  # plain text, nothing binary
