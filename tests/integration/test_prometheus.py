"""A real Prometheus (Debian's `prometheus`, installed by `.ci/run`) scrapes the three services
an operator runs, each started by its own command: the door (`web serve --workers 2`), a worker
(`worker --metrics-port`, two children) and the scheduler (`scheduler --metrics-port`). Events
flow through the door; the counts Prometheus holds then add up to what the database holds."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from models import ProcessedEvent
from tests.conftest import Harness, service_unavailable
from tests.equivalence import pending
from tests.factories import Story
from tests.workers import ROOT, answering, flush, wait_until

pytestmark = pytest.mark.slow

SECRET = "prometheus-test-" + "s" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Services:
    """The processes of one test, each in its own process group, stopped together."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        service_unavailable("Debian's prometheus (apt-get install prometheus)")
    return str(found)


@pytest.fixture
def services(tmp_path: Path, database_url: str, broker_url: str) -> Iterator[Services]:
    flush(broker_url)
    env = {**os.environ, "CELERY_BROKER_URL": broker_url, "DATABASE_URL": database_url,
           "ACCOMPAGNEMENT_WEB_SECRET": SECRET}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each command makes its own
    running = Services(tmp_path, env)
    try:
        yield running
    finally:
        running.stop()
        flush(broker_url)


def documented_rules() -> str:
    """The alert rules of docs/operating.md, as an operator copies them."""
    text = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    return text.split("```yaml\ngroups:", 1)[1].split("```", 1)[0].join(["groups:", ""])


def test_the_documented_alert_rules_are_valid_for_promtool(prometheus_binary: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(documented_rules(), encoding="utf-8")
    promtool = str(Path(prometheus_binary).with_name("promtool"))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {documented_rules().count('- alert:')} rules found" in checked.stdout


def query(prometheus: str, expression: str) -> float | None:
    """The value of an instant query's single answer (None while Prometheus has none)."""
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_prometheus_scrapes_the_door_the_worker_and_the_scheduler_while_events_flow(
    db: Engine, harness: Harness, database_url: str, prometheus_binary: str, services: Services,
    tmp_path: Path,
) -> None:  # fmt: skip
    ports = {name: free_port() for name in ("door", "worker", "scheduler", "prometheus")}
    cli = [sys.executable, "-m", "workflow", "--database-url", database_url]

    worker = services.start("worker", [*cli, "worker", "--concurrency", "2",
                                       "--metrics-port", str(ports["worker"])])  # fmt: skip
    wait_until(lambda: "ready." in services.log("worker") or worker.poll() is not None, 60, "the worker")
    assert worker.poll() is None, services.log("worker")
    door = services.start("door", [*cli, "web", "serve", "--port", str(ports["door"]), "--workers", "2"],
                          {"ACCOMPAGNEMENT_WEB_SECURE_COOKIES": "0"})  # fmt: skip
    answering(f"http://127.0.0.1:{ports['door']}/healthz", door)
    scheduler = services.start("scheduler", [*cli, "scheduler", "--metrics-port", str(ports["scheduler"])])
    wait_until(lambda: "planifié" in services.log("scheduler") or scheduler.poll() is not None, 60,
               "the scheduler")  # fmt: skip
    assert scheduler.poll() is None, services.log("scheduler")

    config = tmp_path / "prometheus.yml"
    targets = "\n".join(
        f"  - job_name: {name}\n    scrape_interval: 1s\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ports[name]}']"
        for name in ("door", "worker", "scheduler")
    )
    rules = tmp_path / "rules.yml"
    rules.write_text(documented_rules(), encoding="utf-8")
    config.write_text(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{rules}']\n"
        f"scrape_configs:\n{targets}\n",
        encoding="utf-8",
    )
    prometheus = services.start("prometheus", [
        prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
    ])  # fmt: skip
    api = f"http://127.0.0.1:{ports['prometheus']}"
    answering(f"{api}/-/ready", prometheus)
    wait_until(lambda: query(api, "sum(up)") == 3, 60, "Prometheus to reach all three services")

    issued = subprocess.run([*cli, "web", "token", "si-ft", "--partenaire", "france_travail"], cwd=ROOT,
                            env=services.env, capture_output=True, text=True, check=True)  # fmt: skip
    orientations = [Story().orientation() for _ in range(30)]
    batch = [*orientations, orientations[0], {"type": "inconnu"}]  # a second copy, an unreadable event
    with httpx.Client(base_url=f"http://127.0.0.1:{ports['door']}", timeout=30,
                      headers={"Authorization": f"Bearer {issued.stdout.strip()}"}) as client:  # fmt: skip
        answer = client.post("/api/events/batch", json={"events": batch})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["duplicates"], answer.json()["rejected"]) == (30, 1, 1)
    wait_until(lambda: pending(db) == 0, 120, "the worker to apply the events")
    with db.connect() as conn:
        applied = conn.scalars(select(ProcessedEvent.event_id)).all()
    assert sorted(applied) == sorted(e["event_id"] for e in orientations)

    expected = {
        'sum(accompagnement_events_total{outcome="applied"})': 30,
        'sum(accompagnement_events_total{door="http"})': 32,  # applied + duplicate + rejected
        'sum(accompagnement_events_accepted_total{door="http"})': 30,
        "sum(accompagnement_event_apply_delay_seconds_count)": 30,
        'sum(accompagnement_http_request_duration_seconds_count{route="/api/events/batch",status="200"})': 1,
        'max(accompagnement_inbox_pending_rows{state="all"})': 0,
        "accompagnement_scheduler_leader": 1,
    }

    def settled() -> bool:
        return all(query(api, expression) == count for expression, count in expected.items())

    try:
        wait_until(settled, 60, "Prometheus to hold the counts")
    except AssertionError:
        raise AssertionError({expression: query(api, expression) for expression in expected}) from None

    def evaluated() -> list[dict[str, Any]]:
        groups = httpx.get(f"{api}/api/v1/rules", timeout=5).json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    wait_until(lambda: all(r.get("lastEvaluation", "0001").startswith("20") for r in evaluated()), 30,
               "the alert rules' first evaluation")  # fmt: skip
    assert len(evaluated()) == documented_rules().count("- alert:") >= 8
    assert {r["name"]: r["health"] for r in evaluated() if r["health"] != "ok"} == {}
    runs = query(api, 'sum(accompagnement_job_runs_total{job_name="inbox_sweep",outcome="ok"})')
    assert runs is not None and runs >= 1
    assert query(api, 'up{job="worker"}') == 1 and query(api, 'up{job="door"}') == 1
