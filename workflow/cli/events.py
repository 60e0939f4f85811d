"""Commands on incoming events: ingest (here or through the workers), rejections, health."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from tqdm import tqdm

from models import RejectedEvent
from workflow.batching import BATCH_SIZE, plan_batches
from workflow.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    Runtime,
    Subparsers,
    age,
    command,
    group,
    print_table,
)
from workflow.clock import PARIS
from workflow.errors import EventRejected, TransitionRefused, WorkflowError
from workflow.events import InvalidEvent, json_schema
from workflow.health import database_counts_since, database_health
from workflow.ingest import REPORTED, ingest_lines, record_rejection, retry_rejection


def cmd_events_ingest(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    path = Path(args.file)
    if args.via == "celery":
        return _publish(rt, path, args.batch_size, progress=not args.no_progress, wait=args.wait)
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        report = ingest_lines(rt.uow(), rt.ctx, fh, path.name)
    print(report.summary())
    for rejection in report.rejections:
        print(f"  rejected {rejection}")
    if report.rejected > len(report.rejections):
        print(f"  … and {report.rejected - len(report.rejections)} more: `accompagnement events rejected`")
    return EXIT_PROBLEM if report.rejected else EXIT_OK


def _publish(rt: Runtime, path: Path, batch_size: int, progress: bool, wait: bool) -> int:
    """Queue a file to the workers in batches; lines that are not JSON are rejected here."""
    from tasks import app
    from tasks.monitor import queue_state

    started = rt.clock.now()
    if app.conf.task_always_eager:
        raise WorkflowError(
            "--via celery needs CELERY_BROKER_URL (a Redis broker); without it use --via direct"
        )
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        batches, bad = plan_batches(fh, batch_size)
    with rt.uow() as uow:
        for line in bad:
            where = f"{path.name}:{line.line}"
            record_rejection(uow.session, rt.ctx, source=where, raw=line.raw, reason=line.reason)
        uow.commit()
    total = sum(len(b.events) for b in batches)
    with tqdm(total=total, unit="event", disable=not progress, desc="queued") as bar:
        for batch in batches:
            app.send_task(
                "accompagnement.apply_batch", args=[batch.events, path.name], kwargs={"lines": batch.lines}
            )
            bar.update(len(batch.events))
    print(f"{total} event(s) queued in {len(batches)} batch(es) of at most {batch_size}")
    print(f"{len(bad)} line(s) rejected here (not JSON objects)")
    for line in bad[:REPORTED]:
        print(f"  rejected {path.name}:{line.line}: {line.reason}")
    if not wait:
        state = queue_state()
        if state is not None:
            print(f"queue: {state.waiting} waiting, {state.in_progress} in progress")
            print("follow with `accompagnement status`, or queue with --wait")
        return EXIT_PROBLEM if bad else EXIT_OK
    with tqdm(total=len(batches), unit="batch", disable=not progress, desc="applied") as bar:
        while (state := queue_state()) is not None and (left := state.waiting + state.in_progress):
            bar.update(max(0, len(batches) - left - bar.n))
            time.sleep(0.5)
        bar.update(len(batches) - bar.n)
    with rt.uow() as uow:
        applied, rejected = database_counts_since(uow.session, started)
    print(
        f"queue drained: since the start, {applied} event(s) applied and {rejected} rejected in the database"
    )
    return EXIT_PROBLEM if bad or rejected else EXIT_OK


def cmd_events_rejected(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        query = select(RejectedEvent)
        if not args.all:
            query = query.where(RejectedEvent.resolved_at.is_(None))
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.scalars(query.order_by(RejectedEvent.id.desc()).limit(args.limit))
        table = [
            (r.id, r.rejected_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"), r.source, r.event_id, r.type,
             r.resolution or r.reason)
            for r in rows
        ]  # fmt: skip
    print_table(table, ("id", "rejected (Paris)", "source", "event_id", "type", "reason"))
    which = "rejected event(s)" if args.all else "unresolved rejected event(s) (--all for every one)"
    print(f"{len(table)} shown of {total} {which}")
    return EXIT_OK


def cmd_events_retry(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    try:
        outcome = retry_rejection(rt.uow(), rt.ctx, args.id)
    except InvalidEvent as exc:
        print(f"rejected event {args.id} is still invalid: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except (TransitionRefused, EventRejected) as exc:
        print(f"rejected event {args.id} is still refused: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(f"rejected event {args.id}: {outcome.status}, {outcome.message}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from tasks import QUEUE, app

    if app.conf.task_always_eager:
        raise WorkflowError("the worker needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    os.environ["DATABASE_URL"] = args.database_url
    argv = ["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency), "--queues", QUEUE]
    app.worker_main(argv)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from tasks.monitor import queue_state

    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        health = database_health(uow.session, rt.clock)
    state = queue_state()
    if state is None:
        print("broker          none configured: events are applied in-process (set CELERY_BROKER_URL)")
    else:
        print(f"queue           {state.waiting} message(s) waiting, {state.in_progress} being processed")
        if state.oldest_event_at is None:
            print("oldest waiting  —")
        else:
            waited = age(rt.clock.now() - state.oldest_event_at)
            when = state.oldest_event_at.astimezone(PARIS)
            print(f"oldest waiting  event of {when:%Y-%m-%d %H:%M}, {waited} old")
    print(
        f"last hour       {health.applied_last_hour} event(s) applied, {health.rejected_last_hour} rejected"
    )
    print(f"to look at      {health.unresolved_rejections} unresolved rejected event(s): `events rejected`")
    print(
        f"emails          {health.emails_unsent} waiting to be sent, {health.emails_failed} failed"
        + (": `reminders list --failed`" if health.emails_failed else "")
    )
    return EXIT_OK


def cmd_events_schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"JSON Schema written to {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    ev = group(sub, "events", "events from other systems (JSON Lines)")
    ingest = command(ev, "ingest", cmd_events_ingest, "apply a JSON Lines file of events")
    ingest.add_argument("file")
    via_help = "direct: apply here (default); celery: queue batches to the workers"
    ingest.add_argument("--via", choices=("direct", "celery"), default="direct", help=via_help)
    ingest.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"events per batch ({BATCH_SIZE})")
    ingest.add_argument("--no-progress", action="store_true")
    ingest.add_argument(
        "--wait", action="store_true", help="with --via celery: wait until the queue is drained"
    )
    rejected = command(ev, "rejected", cmd_events_rejected, "list unresolved rejected events, newest first")
    rejected.add_argument("--limit", type=int, default=50)
    rejected.add_argument("--all", action="store_true", help="include those resolved by a retry")
    retry = command(ev, "retry", cmd_events_retry, "apply a rejected event again, after a fix")
    retry.add_argument("id", type=int)
    command(ev, "schema", cmd_events_schema, "print the events' JSON Schema").add_argument("--output", "-o")
    worker = command(
        sub, "worker", cmd_worker, "run a Celery worker applying queued events (CELERY_BROKER_URL)"
    )
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("--loglevel", default="INFO")
    command(sub, "status", cmd_status, "queue depth, events applied and rejected in the last hour")
