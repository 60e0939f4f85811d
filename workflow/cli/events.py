"""Commands on incoming events: ingest (here or through the workers), rejections, health."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tqdm import tqdm

from models import InboxEvent
from workflow.adapters import db_roles
from workflow.application.inbox import MAX_ATTEMPTS, STALE, SWEEP_EVERY, backlog, receive, statuses
from workflow.application.ingest import (
    FILE_ENCODING,
    REPORTED,
    RESOLVED,
    blank_lines,
    ingest_lines,
    retry_rejection,
)
from workflow.application.queries import operator_lists
from workflow.application.queries.health import database_health
from workflow.bootstrap import Runtime
from workflow.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    LIMIT,
    ROW_ID,
    Subparsers,
    Whole,
    age,
    command,
    connect,
    group,
    print_table,
    show_progress,
)
from workflow.domain import labels
from workflow.domain.errors import EventRejected, TransitionRefused, WorkflowError
from workflow.domain.events import InvalidEvent, json_schema
from workflow.domain.vocabulary import InboxStatus


def cmd_events_ingest(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    path = Path(args.file)
    if args.via == "celery":
        return _publish(rt, path, progress=show_progress(args.no_progress), wait=args.wait)
    with path.open(encoding=FILE_ENCODING, errors="surrogateescape") as fh:
        report = ingest_lines(rt.uow(), rt.ctx, fh, path.name)
    print(report.summary())
    for rejection in report.rejections:
        print(f"  rejeté {rejection}")
    if report.rejected > len(report.rejections):
        more = report.rejected - len(report.rejections)
        print(f"  … et {more} autre(s) : `accompagnement events rejected`")
    return EXIT_PROBLEM if report.rejected else EXIT_OK


def _publish(rt: Runtime, path: Path, progress: bool, wait: bool) -> int:
    """Store the file in the inbox (one transaction: all of it is accepted, or none), then wake
    the workers: one person's events are applied in the file's order, whatever their number."""
    from tasks import app
    from tasks.events import queue

    if app.conf.task_always_eager:
        raise WorkflowError(
            "--via celery demande CELERY_BROKER_URL (un broker Redis) ; sans lui, utilisez --via direct"
        )
    with path.open(encoding=FILE_ENCODING, errors="surrogateescape") as fh:
        lines = list(enumerate(fh, start=1))
    items = [(f"{path.name}:{n}", line) for n, line in lines if line.strip()]
    blank = len(lines) - len(items)
    receipt = receive(rt.uow(), rt.ctx, items, "cli")
    queue(receipt.routed())
    count = receipt.count()
    print(f"{len(receipt.pending)} événement(s) enregistré(s) et confié(s) aux workers")
    print(f"{count['duplicate']} doublon(s) (déjà appliqué(s) ou en attente), {count['rejected']} ligne(s) "
          f"rejetée(s) ici{blank_lines(blank)}")  # fmt: skip
    _print_rejections([(items[v.position][0], v.event_id, v.reason) for v in receipt.verdicts
                       if v.status == "rejected"], count["rejected"])  # fmt: skip
    if not wait:
        print(f"suivre avec `accompagnement status` (envoi {receipt.submission})")
        return EXIT_PROBLEM if count["rejected"] else EXIT_OK
    return _wait(rt, receipt.submission, len(items), progress)


def _wait(rt: Runtime, submission: str, total: int, progress: bool) -> int:
    """Wait until every event of the submission is settled, then say how each ended."""
    with tqdm(total=total, unit="event", disable=not progress, desc="settled") as bar:
        while True:
            with rt.uow() as uow:
                count = statuses(uow.session, submission)
            bar.update(total - count[InboxStatus.PENDING] - bar.n)
            if not count[InboxStatus.PENDING]:
                break
            time.sleep(0.5)
    with rt.uow() as uow:
        rejected = uow.session.execute(
            select(InboxEvent.source, InboxEvent.event_id, InboxEvent.reason)
            .where(InboxEvent.submission == submission, InboxEvent.status == InboxStatus.REJECTED)
            .order_by(InboxEvent.position)
            .limit(REPORTED)
        ).all()
    print(
        f"les {total} événement(s) sont réglés : {count[InboxStatus.APPLIED]} appliqué(s), "
        f"{count[InboxStatus.DUPLICATE]} doublon(s), {count[InboxStatus.REJECTED]} rejeté(s)"
    )
    _print_rejections([tuple(r) for r in rejected], count[InboxStatus.REJECTED])
    return EXIT_PROBLEM if count[InboxStatus.REJECTED] else EXIT_OK


def _print_rejections(rows: list[tuple[Any, ...]], total: int) -> None:
    for where, event_id, reason in rows[:REPORTED]:
        ident = f" [{event_id}]" if event_id else ""
        print(f"  rejeté {where}{ident} : {reason}")
    if total > REPORTED:
        print(f"  … et {total - REPORTED} autre(s) : `accompagnement events rejected`")


def cmd_events_rejected(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        rows, total = operator_lists.rejected_events(uow.session, args.all, args.limit)
        table = [
            (r.id, labels.instant(r.rejected_at), r.source, r.event_id, r.type, r.resolution or r.reason)
            for r in rows
        ]  # fmt: skip
    print_table(table, ("n°", "rejeté le (Paris)", "origine", "event_id", "type", "motif"))
    which = "événement(s) rejeté(s)" if args.all else "événement(s) rejeté(s) non résolu(s) (--all pour tous)"
    print(f"{len(table)} affiché(s) sur {total} {which}")
    return EXIT_OK


def cmd_events_retry(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    try:
        outcome = retry_rejection(rt.uow(), rt.ctx, args.id)
    except InvalidEvent as exc:
        print(f"l'événement refusé {args.id} est toujours invalide : {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except (TransitionRefused, EventRejected) as exc:
        print(f"l'événement refusé {args.id} est toujours refusé : {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(f"événement refusé {args.id} : {RESOLVED[outcome.status]}, {outcome.message}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    if args.metrics_port:
        from workflow.adapters.metrics_folder import prepare

        prepare("worker")  # before the tasks import the metrics: the children's counts add up
        os.environ["ACCOMPAGNEMENT_METRICS_PORT"] = str(args.metrics_port)
    from tasks import QUEUE, app

    if app.conf.task_always_eager:
        raise WorkflowError("le worker demande CELERY_BROKER_URL (par exemple redis://127.0.0.1:6379/0)")
    os.environ["DATABASE_URL"] = args.database_url
    logging.getLogger().setLevel(args.loglevel.upper())  # the service's lines too (a batch each at INFO)
    argv = ["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency), "--queues", QUEUE]
    app.worker_main(argv)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 1 when something needs an operator: events that wait with no message to carry them,
    messages whose worker is gone."""
    from tasks.monitor import INSPECT_TIMEOUT, queue_state, redis_persistence

    rt = connect(args.database_url)
    now = rt.clock.now()
    with rt.uow() as uow:
        health = database_health(uow.session, rt.clock)
        inbox = backlog(uow.session, now)
    role = db_roles.check_role(rt.engine)
    if role is not None and role.warning:
        print(role.warning)
    state = queue_state()
    if state is None:
        print("courtier        aucun : les événements sont appliqués dans le processus (CELERY_BROKER_URL)")
    else:
        print(
            f"file            {state.waiting} message(s) en attente, {state.in_progress} en cours, "
            f"{state.orphaned} orphelin(s)"
        )
        if state.orphaned:
            when = (
                ""
                if state.orphan_redelivery_in is None
                else f" dans {age(timedelta(seconds=state.orphan_redelivery_in))}"
            )
            print(f"                orphelins : aucun worker vivant ne les tient ; Redis les redonne{when}")
        if state.unanswered and state.orphaned:
            print(f"                aucun worker n'a répondu en {INSPECT_TIMEOUT:.0f} s : aucun ne tourne ?")
        print(f"redis sur disque {redis_persistence()}")
    oldest = "" if inbox.oldest is None else f", le plus ancien accepté il y a {age(now - inbox.oldest)}"
    print(f"boîte d'entrée  {inbox.pending} événement(s) accepté(s), pas encore appliqué(s){oldest}")
    if inbox.held:
        print(f"                dont {inbox.held} en cours d'application par un worker")
    if inbox.deferred:
        print(
            f"                dont {inbox.deferred} arrivé(s) avant un événement qui les précède : "
            "réessayé(s) "
            "sous peu, puis refusé(s) s'il n'est pas venu"
        )
    if inbox.stranded:
        print(
            f"                dont {inbox.stranded} attendent depuis plus de {age(STALE)} "
            "sans worker réveillé "
            f"pour eux (message perdu, ou aucun worker) : le balayage du planificateur réveille les "
            f"workers toutes les {age(SWEEP_EVERY)}"
        )
    if inbox.retried:
        print(
            f"                dont {inbox.retried} pris par un worker qui ne les a pas finis ; une ligne "
            f"est mise de côté (refusée) après {MAX_ATTEMPTS} prises"
        )
    if inbox.parked:
        print(f"mis de côté     {inbox.parked} événement(s) après {MAX_ATTEMPTS} prises : `events rejected`")
    print(
        f"dernière heure  {health.applied_last_hour} événement(s) appliqué(s), "
        f"{health.rejected_last_hour} refusé(s)"
    )
    unresolved = f"{health.unresolved_rejections} événement(s) refusé(s) non résolu(s)"
    print(f"à regarder      {unresolved} : `events rejected`")
    print(
        f"emails          {health.emails_unsent} à envoyer, {health.emails_failed} en échec"
        + (" : `reminders list --failed`" if health.emails_failed else "")
    )
    no_message = state is not None and state.waiting + state.in_progress == 0
    stuck = (inbox.stranded and no_message) or (state is not None and state.orphaned)
    return EXIT_PROBLEM if stuck else EXIT_OK


def cmd_events_schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"JSON Schema écrit dans {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    ev = group(sub, "events", "events from other systems (JSON Lines)")
    ingest = command(ev, "ingest", cmd_events_ingest, "apply a JSON Lines file of events")
    ingest.add_argument("file")
    via_help = "direct: apply here (default); celery: store in the inbox and queue to the workers"
    ingest.add_argument("--via", choices=("direct", "celery"), default="direct", help=via_help)
    ingest.add_argument("--no-progress", action="store_true")
    ingest.add_argument(
        "--wait", action="store_true", help="with --via celery: wait until the queue is drained"
    )
    rejected = command(ev, "rejected", cmd_events_rejected, "list unresolved rejected events, newest first")
    rejected.add_argument("--limit", type=LIMIT, default=50)
    rejected.add_argument("--all", action="store_true", help="include those resolved by a retry")
    retry = command(ev, "retry", cmd_events_retry, "apply a rejected event again, after a fix")
    retry.add_argument("id", type=ROW_ID)
    command(ev, "schema", cmd_events_schema, "print the events' JSON Schema").add_argument("--output", "-o")
    worker = command(
        sub, "worker", cmd_worker, "run a Celery worker applying queued events (CELERY_BROKER_URL)"
    )
    worker.add_argument("--concurrency", type=Whole(1, 256), default=os.cpu_count() or 2)
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument(
        "--metrics-port", type=Whole(1, 65_535), metavar="PORT",
        help="answer Prometheus on this port (/metrics: events settled, delays, emails)",
    )  # fmt: skip
    command(
        sub, "status", cmd_status,
        "queue and inbox: events waiting, in progress, orphaned or stuck; last hour's applied and rejected",
    )  # fmt: skip
