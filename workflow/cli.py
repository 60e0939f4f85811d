"""The `accompagnement` command: parse, call `workflow`, print.

Exit codes: 0 success; 1 the command ran but found a problem (rejected events, a broken
audit chain); 2 bad usage, configuration or input that could not be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from tqdm import tqdm

from models import Professional, RejectedEvent, database_url, make_engine, make_session_factory
from workflow import audit, database, directory
from workflow.batching import BATCH_SIZE, plan_batches
from workflow.clock import PARIS, Clock, SystemClock
from workflow.context import Context
from workflow.conventions import load_book
from workflow.errors import EventRejected, NotFound, TransitionRefused, WorkflowError
from workflow.events import InvalidEvent, json_schema
from workflow.health import database_counts_since, database_health
from workflow.ingest import REPORTED, ingest_lines, record_rejection, retry_rejection
from workflow.lifecycle import TRIGGERS, mermaid
from workflow.process_tuning import tune_garbage_collector
from workflow.unit_of_work import UnitOfWork
from workflow.views import case_view

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
DATABASE_URL_HELP = "default: $DATABASE_URL or sqlite:///accompagnement.db (demo: its own file)"


class Runtime:
    """The database and conventions one command works with."""

    def __init__(self, url: str, clock: Clock | None = None, check_schema: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if check_schema and not database.is_current(self.engine):
            raise WorkflowError(f"database {url} has no schema yet: run `accompagnement db upgrade`")
        self.sessions = make_session_factory(self.engine)
        self.clock = clock or SystemClock()
        self._ctx: Context | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context.open(self.uow(), self.clock, load_book())
        return self._ctx


def _print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


# --- commands ----------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url, check_schema=False)
    database.upgrade(rt.engine)
    rt.ctx  # records the conventions, so a bad conventions file shows up now  # noqa: B018
    print(f"database {rt.url} is at the latest schema; conventions recorded")
    return EXIT_OK


def cmd_conventions_list(args: argparse.Namespace) -> int:
    book = load_book()
    if args.json:
        data = [
            {
                "code": c.code,
                "version": c.version,
                "name": c.name,
                "effective_from": c.effective_from.isoformat(),
                "seeds": list(c.seeds),
                "figures": c.figures(),
                "defaulted": list(c.defaulted),
            }
            for c in book.all()
        ]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    for conv in book.all():
        print(f"{conv.code} / {conv.version}: {conv.name}")
        print(f"    in force from {conv.effective_from.isoformat()}; seeds {', '.join(conv.seeds)}")
        for name, value in conv.figures().items():
            if value is None:
                continue
            mark = "  (défaut)" if name in conv.defaulted else ""
            print(f"    {name:32} {value}{mark}")
    print("\n(défaut): the convention does not state this figure; the [defaults] value applies.")
    return EXIT_OK


def cmd_professionals_import(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    path = Path(args.file)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = directory.read_csv(fh, str(path))
    with rt.uow() as uow:
        report = directory.import_rows(uow.session, rows)
        uow.commit()
    print(f"{path}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    return EXIT_OK


def cmd_professionals_list(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        pros = uow.session.scalars(
            select(Professional).order_by(Professional.departement, Professional.agence, Professional.id)
        )
        rows = [(p.id, p.role, p.name, p.agence, p.territory, "yes" if p.active else "no") for p in pros]
    _print_table(rows, ("id", "role", "name", "agence", "territory", "active"))
    return EXIT_OK


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
    _print_table(table, ("id", "rejected (Paris)", "source", "event_id", "type", "reason"))
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
            age = _age(rt.clock.now() - state.oldest_event_at)
            when = state.oldest_event_at.astimezone(PARIS)
            print(f"oldest waiting  event of {when:%Y-%m-%d %H:%M}, {age} old")
    print(
        f"last hour       {health.applied_last_hour} event(s) applied, {health.rejected_last_hour} rejected"
    )
    print(f"to look at      {health.unresolved_rejections} unresolved rejected event(s): `events rejected`")
    return EXIT_OK


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h" if seconds < 172800 else f"{seconds // 86400} days"


def cmd_events_schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"JSON Schema written to {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_case_show(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        view = case_view(uow.session, rt.ctx, args.ref)
    if args.json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        _print_case(view)
    return EXIT_OK


def _print_case(v: dict[str, Any]) -> None:
    p, b, d = v["person"], v["binome"], v["dates"]
    print(f"Case {v['reference']}  —  state: {v['state']}")
    registered = "registered" if p["registered"] else "NOT registered"
    pinned = " (pinned at signature)" if v["convention"]["pinned"] else ""
    print(f"  person        {p['ft_identifier']} ({p['status']}, {registered}), agence {p['agence']}")
    print(f"  convention    {v['convention']['code']}{pinned}")
    print(
        f"  binôme        conseiller {b['conseiller'] or '—'}; référent social {b['referent_social'] or '—'}"
    )
    print(f"  orienteur     {v['orienteur']} via {v['origin']}; consent {'yes' if v['consent'] else 'no'}")
    print(f"  diagnostic    {v['diagnostic']['kind'] or '—'} {v['diagnostic']['date'] or ''}")
    print("  dates         " + ", ".join(f"{k} {val}" for k, val in d.items() if val))
    print(
        f"  renewals      {v['renewals']} (renewal still possible: {'yes' if v['can_still_renew'] else 'no'})"
    )
    if v["exit_reason"]:
        print(f"  exit reason   {v['exit_reason']}")
    if v["deadlines"]:
        print("  deadlines")
        for dl in v["deadlines"]:
            print(f"    {dl['name']:40} {dl['due']}  {dl['status']}")
    if v["appointments"]:
        print("  appointments")
        for a in v["appointments"]:
            print(f"    {a['planned_at']}  {a['kind']:10} {a['outcome']}")
    print(f"  history (audit chain {v['chain']})")
    for h in v["history"]:
        reason = f" reason={h['reason']}" if h["reason"] else ""
        move = f"{h['from'] or '∅'} → {h['to']}"
        by = f"by {h['actor']}{reason}"
        print(f"    {h['seq']:>3} {h['when']}  {h['trigger']:20} {move:28} {by}  [{h['event_id']}]")


def cmd_audit_verify(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    with rt.uow() as uow:
        report = audit.verify_chains(uow.session)
    print(f"checked {report.rows} log row(s) in {report.cases} chain(s)")
    if report.ok:
        print("every chain is intact")
        return EXIT_OK
    print(f"{len(report.breaks)} broken chain(s); first bad row of each:")
    for brk in report.breaks:
        print(f"  {brk}")
    return EXIT_PROBLEM


def cmd_audit_export(args: argparse.Namespace) -> int:
    rt = Runtime(args.database_url)
    flt = audit.LogFilter(
        case_reference=args.case,
        actor_id=args.actor,
        trigger=args.trigger,
        since=args.since,
        until=args.until,
    )
    with rt.uow() as uow:
        rows = audit.export_rows(uow.session, flt)
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = audit.write_export(rows, out, args.format)
            print(f"{count} row(s) written to {args.output}", file=sys.stderr)
        else:
            audit.write_export(rows, sys.stdout, args.format)
    return EXIT_OK


def cmd_lifecycle_diagram(args: argparse.Namespace) -> int:
    sys.stdout.write(mermaid())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from workflow.demo import DemoSettings, run_demo

    settings = DemoSettings(
        departement=args.departement,
        agences=args.agences,
        conseillers_per_agence=args.conseillers,
        start=args.start,
        months=args.months,
        seed=args.seed,
        output_dir=Path(args.output_dir),
    )
    return run_demo(settings, args.database_url, progress=not args.no_progress)


# --- parser ------------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-31") from None


Subparsers = argparse._SubParsersAction  # the type argparse gives `add_subparsers()`


def _group(
    sub: Subparsers[argparse.ArgumentParser], name: str, help_text: str
) -> Subparsers[argparse.ArgumentParser]:
    return sub.add_parser(name, help=help_text).add_subparsers(dest="action", required=True, metavar="ACTION")


def _command(
    parent: Subparsers[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    help_text: str,
) -> argparse.ArgumentParser:
    p = parent.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(func=func)
    # Accepted after the command too (`accompagnement demo --database-url …`), as people type it.
    p.add_argument("--database-url", default=argparse.SUPPRESS, help=DATABASE_URL_HELP)
    return p


def _storage_commands(sub: Subparsers[argparse.ArgumentParser]) -> None:
    db = _group(sub, "db", "database schema")
    _command(
        db, "upgrade", cmd_db_upgrade, "create or migrate the schema (Alembic) and record the conventions"
    )
    conv = _group(sub, "conventions", "the conventions' figures")
    listing = _command(conv, "list", cmd_conventions_list, "list every convention version and its figures")
    listing.add_argument("--json", action="store_true")
    pro = _group(sub, "professionals", "the directory of professionals")
    _command(
        pro, "import", cmd_professionals_import, "import or update professionals from a CSV file"
    ).add_argument("file")
    _command(pro, "list", cmd_professionals_list, "list the directory")


def _event_commands(sub: Subparsers[argparse.ArgumentParser]) -> None:
    ev = _group(sub, "events", "events from other systems (JSON Lines)")
    ingest = _command(ev, "ingest", cmd_events_ingest, "apply a JSON Lines file of events")
    ingest.add_argument("file")
    via_help = "direct: apply here (default); celery: queue batches to the workers"
    ingest.add_argument("--via", choices=("direct", "celery"), default="direct", help=via_help)
    ingest.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"events per batch ({BATCH_SIZE})")
    ingest.add_argument("--no-progress", action="store_true")
    ingest.add_argument(
        "--wait", action="store_true", help="with --via celery: wait until the queue is drained"
    )
    rejected = _command(ev, "rejected", cmd_events_rejected, "list unresolved rejected events, newest first")
    rejected.add_argument("--limit", type=int, default=50)
    rejected.add_argument("--all", action="store_true", help="include those resolved by a retry")
    retry = _command(ev, "retry", cmd_events_retry, "apply a rejected event again, after a fix")
    retry.add_argument("id", type=int)
    _command(ev, "schema", cmd_events_schema, "print the events' JSON Schema").add_argument("--output", "-o")
    worker = _command(
        sub, "worker", cmd_worker, "run a Celery worker applying queued events (CELERY_BROKER_URL)"
    )
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("--loglevel", default="INFO")
    _command(sub, "status", cmd_status, "queue depth, events applied and rejected in the last hour")


def _case_and_audit_commands(sub: Subparsers[argparse.ArgumentParser]) -> None:
    case = _group(sub, "case", "one case")
    show = _command(case, "show", cmd_case_show, "a case's state, dates, deadlines, binôme and history")
    show.add_argument("ref", help="case reference or France Travail identifier")
    show.add_argument("--json", action="store_true")
    au = _group(sub, "audit", "the transition log")
    _command(au, "verify", cmd_audit_verify, "recompute every hash chain and name the first broken row")
    export = _command(au, "export", cmd_audit_export, "export log rows as CSV or JSON Lines")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--case", help="case reference")
    export.add_argument("--actor", help="professional id")
    export.add_argument("--trigger", choices=("orienter", *TRIGGERS))
    export.add_argument("--since", type=_day, help="first day (inclusive), YYYY-MM-DD")
    export.add_argument("--until", type=_day, help="last day (inclusive), YYYY-MM-DD")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    life = _group(sub, "lifecycle", "the state machine")
    _command(life, "diagram", cmd_lifecycle_diagram, "print the lifecycle as a mermaid diagram")


def _demo_command(sub: Subparsers[argparse.ArgumentParser]) -> None:
    demo = _command(
        sub, "demo", cmd_demo, "simulate a year of a synthetic département through the real ingestion"
    )
    demo.add_argument("--departement", default="67", help="convention to simulate: 35, 67 or 82 (default 67)")
    demo.add_argument("--agences", type=int, default=3)
    demo.add_argument("--conseillers", type=int, default=2, help="dedicated conseillers per agence")
    demo.add_argument("--start", type=_day, default=date(2026, 1, 1), help="first day of the simulated year")
    demo.add_argument("--months", type=int, default=12)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--output-dir", default="demo-output", help="where the generated files go")
    demo.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accompagnement",
        description="Accompagnement global: cases, events and audit log (France Travail + Département).",
    )
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _storage_commands(sub)
    _event_commands(sub)
    _case_and_audit_commands(sub)
    _demo_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.command != "demo":
        args.database_url = args.database_url or database_url()
    if args.command == "demo" or getattr(args, "action", None) == "ingest":
        tune_garbage_collector()
    try:
        result: int = args.func(args)
        return result
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (silence the flush at exit)
        return EXIT_OK
    except NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except (WorkflowError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
