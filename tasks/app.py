"""The Celery app: Redis broker in production, in-process when no broker is configured.

Settings follow Celery's advice for work that must not be lost:
- late acknowledgement and reject-on-worker-lost: a message is acknowledged only after its
  transaction committed, and comes back if the worker dies;
- prefetch of one message per process: a batch carries hundreds of events, and messages held
  in a prefetch buffer would only wait there and come back late if the worker died;
- the Redis visibility timeout (how long an unacknowledged message stays invisible before
  redelivery) above the longest task and the longest countdown; never an ETA far in the future,
  which Redis would redeliver every visibility timeout: future work lives in database rows
  (reminders). Events do not wait for it: they are in the inbox, whose sweep queues again within
  minutes the rows a dead worker held (`workflow.application.inbox`);
- JSON only, decoded so that no nesting can crash a worker (`tasks.serialization`), and
  explicit task names that other systems can use with `send_task`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init, worker_ready

from tasks import serialization

QUEUE = "accompagnement.events"
# Seconds before Redis hands an unacknowledged message (its worker died) to another worker. It must
# exceed the longest task (a batch of 500 events: seconds; a revue: under a minute) and the longest
# countdown a worker holds unacknowledged (an email's SMTP backoff: up to 16 minutes), or a live
# task would run twice. Kombu looks for such messages every unacked_restore_interval x
# unacked_restore_throttle seconds (10 x 10 by default).
VISIBILITY_TIMEOUT = 20 * 60
# An operator (or a test that wants to see a redelivery) adjusts them with a JSON object, e.g.
# ACCOMPAGNEMENT_BROKER_OPTIONS='{"visibility_timeout": 7200}'.
BROKER_OPTIONS = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    **json.loads(os.environ.get("ACCOMPAGNEMENT_BROKER_OPTIONS", "{}")),
}

log = logging.getLogger(__name__)
serialization.install()
app = Celery("accompagnement")
broker = os.environ.get("CELERY_BROKER_URL")
app.conf.update(
    broker_url=broker or "memory://localhost/",  # a host named: kombu warns of an empty one
    task_always_eager=broker is None,  # the embedded default: tasks run in the calling process
    task_eager_propagates=True,
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_max_tasks_per_child=int(os.environ.get("ACCOMPAGNEMENT_MAX_TASKS_PER_CHILD", "1000")),
    broker_transport_options=BROKER_OPTIONS,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="Europe/Paris",
)


# The folders the worker writes to, by setting, with the default it falls back on.
OUTPUT_FOLDERS = (
    ("ACCOMPAGNEMENT_REVUE_DIR", "revues", "les tableaux des revues"),
    ("ACCOMPAGNEMENT_INDICATORS_DIR", "indicateurs", "les indicateurs trimestriels"),
    ("ACCOMPAGNEMENT_OUTBOX_DIR", "outbox", "les emails, tant qu'aucun serveur SMTP n'est donné"),
)


def output_folders() -> list[str]:
    """Where the worker will write its files, one French line each: a folder left to its default
    is relative to the worker's working directory (a setting given to the scheduler only once
    made files land in a checkout)."""
    lines = []
    for setting, default, what in OUTPUT_FOLDERS:
        chosen = os.environ.get(setting)
        where = Path(chosen or default).resolve()
        how = f"({setting})" if chosen else f"({setting} non défini : dossier par défaut)"
        lines.append(f"{what} : {where} {how}")
    return lines


@worker_ready.connect
def _tell_where_files_go(**_: object) -> None:
    """At start, in the worker's log: a folder left to its default as a warning."""
    for line in output_folders():
        if "non défini" in line:
            log.warning(line)
        else:
            log.info(line)


METRICS_PORT_ENV = "ACCOMPAGNEMENT_METRICS_PORT"  # set by `accompagnement worker --metrics-port`


@worker_init.connect
def _serve_metrics(**_: object) -> None:
    """In the worker's main process, before its children start: answer Prometheus' scrapes with
    the counts of every child (`workflow.adapters.metrics`), when a port is set."""
    port = os.environ.get(METRICS_PORT_ENV)
    if not port:
        return
    from workflow.adapters import metrics
    from workflow.adapters.metrics_folder import ENV, shared

    if not shared():
        log.warning("%s non défini : les mesures des processus enfants ne seront pas additionnées", ENV)
    metrics.serve(int(port))
    log.info("mesures Prometheus sur le port %s (/metrics)", port)
