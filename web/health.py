"""What an operator's tools ask the door: is it alive (`/healthz`), may it take traffic
(`/readyz`), and how is the service doing (`/metrics`, Prometheus' format).

`/readyz` answers 503, naming in French what is wrong, while the database is out of reach, its
schema is behind the code (`accompagnement db upgrade` not run), or the broker does not answer;
a load balancer then sends no traffic to this door. `/metrics` adds to the door's own counts
(`workflow.adapters.metrics`) what the database holds at that moment: the inbox rows waiting,
held by a worker, deferred or stranded, the age of the oldest, the rows parked, and the last day
sealed in the audit log. None of it names a person; the answers carry counts only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import AuditSeal
from web.state import Web
from workflow.adapters import metrics, migrations
from workflow.application.inbox import backlog

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def alive() -> dict[str, str]:
    """The process answers: nothing more is checked (a liveness probe must not fail with the
    database, or every door would be restarted at once)."""
    return {"status": "ok"}


@router.get("/readyz")
def ready(request: Request) -> JSONResponse:
    web: Web = request.app.state.web
    checks = readiness(web)
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


def readiness(web: Web) -> dict[str, str]:
    """Each dependency, "ok" or what is wrong with it, in French."""
    engine = web.runtime.engine
    checks: dict[str, str] = {}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"base de données injoignable ({type(exc).__name__})"
    if checks["database"] == "ok":
        behind = "schéma en retard sur le code : lancer « accompagnement db upgrade »"
        checks["schema"] = "ok" if migrations.at_head(engine) else behind
    checks["broker"] = _broker()
    return checks


def _broker() -> str:
    """The broker answers a ping within 2 s ("ok" too when there is none: tasks then run in the
    door's process, as on the embedded default)."""
    from tasks.app import app

    if app.conf.task_always_eager:
        return "ok"
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"courtier injoignable ({type(exc).__name__})"
    return "ok"


@router.get("/metrics")
def scrape(request: Request) -> Response:
    web: Web = request.app.state.web
    return Response(metrics.exposition(StoredNow(web)), media_type=metrics.CONTENT_TYPE)


class StoredNow(Collector):
    """What the database holds at the scrape: read by every door alike (graph them with `max`)."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def collect(self) -> Iterator[Any]:
        now = self.web.clock.now()
        with self.web.sessions() as session:
            waiting = backlog(session, now)
            sealed = session.scalar(select(func.max(AuditSeal.day)))
        rows = GaugeMetricFamily(
            "accompagnement_inbox_pending_rows",
            "Lignes de la boîte de réception en attente, par état : toutes, tenues par un worker, "
            "différées, sans worker réveillé depuis 30 s",
            labels=["state"],
        )
        for state, count in (("all", waiting.pending), ("held", waiting.held), ("deferred", waiting.deferred),
                             ("stranded", waiting.stranded)):  # fmt: skip
            rows.add_metric([state], count)
        yield rows
        age = (now - waiting.oldest).total_seconds() if waiting.oldest is not None else 0.0
        yield GaugeMetricFamily(
            "accompagnement_inbox_oldest_pending_age_seconds",
            "Âge de la plus ancienne ligne en attente (0 quand rien n'attend)",
            value=max(age, 0.0),
        )
        yield GaugeMetricFamily(
            "accompagnement_inbox_parked_rows",
            "Lignes écartées après trop de tentatives (à examiner : « events rejected »)",
            value=waiting.parked,
        )
        if sealed is not None:
            yield GaugeMetricFamily(
                "accompagnement_audit_last_sealed_day_timestamp_seconds",
                "Début (UTC) du dernier jour scellé du journal d'audit",
                value=datetime.combine(sealed, datetime.min.time(), UTC).timestamp(),
            )


class RequestTimer:
    """Times every HTTP answer by method, route (its template: `/api/events/{event_id}`, never a
    value) and status. A plain ASGI middleware, like `SecurityHeaders`, so that the door pays a
    few microseconds, not a task group."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            template = getattr(scope.get("route"), "path", None) or "none"  # no route: a 404
            seconds = time.perf_counter() - started
            metrics.REQUESTS.labels(scope["method"], template, str(status)).observe(seconds)
