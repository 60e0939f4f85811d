"""What the door and the workers count, in Prometheus' format (prometheus-client).

Every event a door stores is counted once accepted (`accompagnement_events_accepted_total`), and
once settled (`accompagnement_events_total`, by door, outcome and type): at the door when it is a
duplicate or refused there, by a worker when it is applied, a duplicate or rejected. So the
settled add up to the accepted plus the refused at the door, once nothing waits: "every line
accounted for", as an operator can graph it. Names follow Prometheus' conventions (base units,
`_total` counters); labels keep the identifiers of the JSON output, help texts are French.

A service of several processes adds their counts up (`metrics_folder`); `exposition` answers a
scrape with them, and with what a caller reads at scrape time (the database's gauges); `serve`
answers from a thread of the process (the worker's main process, the scheduler, whose own
metrics are in `scheduler/metrics.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector

from workflow.adapters.metrics_folder import shared

CONTENT_TYPE = CONTENT_TYPE_LATEST

EVENTS = Counter(
    "accompagnement_events",
    "Événements réglés : appliqués, doublons ou rejetés (à la porte ou par un worker), par porte et type",
    ["door", "outcome", "type"],
)
ACCEPTED = Counter(
    "accompagnement_events_accepted",
    "Événements acceptés dans la boîte de réception, en attente d'un worker, par porte",
    ["door"],
)
APPLY_DELAY = Histogram(
    "accompagnement_event_apply_delay_seconds",
    "Délai entre l'acceptation d'un événement à la porte et son application par un worker",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
REQUESTS = Histogram(
    "accompagnement_http_request_duration_seconds",
    "Durée des requêtes HTTP de la porte et de la console, par méthode, route et code de réponse",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DOOR_COMMITS = Histogram(
    "accompagnement_http_events_per_commit",
    "Événements enregistrés par transaction de la porte HTTP (les requêtes arrivées ensemble "
    "partagent une transaction)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
EMAILS = Counter(
    "accompagnement_emails",
    "Emails de rappel et de revue : envoyés (sent), en échec à réessayer (retried), abandonnés (failed)",
    ["outcome"],
)


def door_of(sender: str) -> str:
    """The door a row came through, from its sender ("http:<system>", "celery:<source>", "cli")."""
    return sender.split(":", 1)[0] or "cli"


def count_received(door: str, stored: Mapping[tuple[str, str], int]) -> None:
    """Add what a door stored: rows accepted (pending), or settled at the door, by (status, type)."""
    for (status, kind), n in stored.items():
        if status == "pending":
            ACCEPTED.labels(door).inc(n)
        else:
            EVENTS.labels(door, status, kind).inc(n)


def count_settled(settled: Mapping[tuple[str, str, str], int], delays: Iterable[float]) -> None:
    """Add what a worker settled, by (sender, outcome, type), and the delays of the events it
    applied, in seconds."""
    for (sender, outcome, kind), n in settled.items():
        EVENTS.labels(door_of(sender), outcome, kind).inc(n)
    for seconds in delays:
        APPLY_DELAY.observe(max(seconds, 0.0))


def _counts() -> CollectorRegistry:
    """This service's counts: every process's, added up, when it has several."""
    if not shared():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(*read_now: Collector) -> bytes:
    """A scrape's answer: the service's counts, then what `read_now` reads at this moment."""
    text = generate_latest(_counts())
    if read_now:
        extra = CollectorRegistry(auto_describe=False)
        for collector in read_now:
            extra.register(collector)
        text += generate_latest(extra)
    return text


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Answer scrapes on `port` from a thread of this process (the worker's main process, the
    scheduler): the service's counts."""
    start_http_server(port, addr=host, registry=_counts())
