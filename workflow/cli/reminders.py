"""Commands on reminders: the daily scan, the list (failed emails first of all), retries."""

from __future__ import annotations

import argparse
import os

from workflow.application import outbox
from workflow.application.queries import operator_lists
from workflow.application.reminders import daily_scan
from workflow.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    LIMIT,
    ROW_ID,
    Subparsers,
    command,
    connect,
    day_arg,
    dispatch_emails,
    group,
    print_table,
)
from workflow.domain import labels
from workflow.domain.clock import today
from workflow.domain.vocabulary import ReminderKind, ReminderStatus


def cmd_reminders_run(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    day = args.date or today(rt.clock)
    digest = args.digest or os.environ.get("ACCOMPAGNEMENT_REMINDER_DIGEST", "") not in ("", "0")
    report = daily_scan.scan(rt.uow(), rt.ctx, day, digest=digest)
    print(report.summary())
    with rt.uow() as uow:
        left = outbox.unsent(uow.session, rt.ctx)
    if left:
        dispatch_emails(left)
        print(f"{len(left)} email(s) restés sans envoi confiés de nouveau à l'envoi")
    print(_where())
    return EXIT_OK


def _where() -> str:
    from tasks.app import app

    host = os.environ.get("ACCOMPAGNEMENT_SMTP_HOST")
    to = (
        f"au serveur SMTP {host}"
        if host
        else f"en fichiers .eml dans {os.environ.get('ACCOMPAGNEMENT_OUTBOX_DIR', 'outbox')}/"
    )
    how = "envoyés par ce processus" if app.conf.task_always_eager else "confiés aux workers"
    return f"emails : {how}, {to}"


def cmd_reminders_list(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    with rt.uow() as uow:
        found = operator_lists.reminders(
            uow.session, failed=args.failed, status=args.status, kind=args.kind, case_reference=args.case,
            limit=args.limit,
        )  # fmt: skip
        rows = [
            (r.id, ref, labels.word(labels.REMINDER_KINDS, r.kind), labels.day(r.due_date),
             labels.word(labels.REMINDER_STATUSES, r.status), e.id if e else None,
             labels.word(labels.EMAIL_STATUSES, e.status) if e else None, e.attempts if e else None,
             (e.last_error or "") if e else r.note or "")
            for r, ref, e in found
        ]  # fmt: skip
    print_table(
        rows, ("n°", "dossier", "rappel", "dû le", "état", "email", "état de l'email", "tentatives", "note")
    )
    if args.failed and rows:
        print("renvoyez-les, la cause réparée : `accompagnement reminders retry --all-failed`")
    return EXIT_PROBLEM if args.failed and rows else EXIT_OK


def cmd_reminders_retry(args: argparse.Namespace) -> int:
    rt = connect(args.database_url)
    if not args.email_ids and not args.all_failed:
        print("nommez les emails à renvoyer (numéros de `reminders list --failed`), ou --all-failed")
        return EXIT_PROBLEM
    ids = outbox.retry_failed(rt.uow(), None if args.all_failed else args.email_ids)
    if not ids:
        print("aucun email en échec à renvoyer")
        return EXIT_PROBLEM
    dispatch_emails(ids)
    print(f"{len(ids)} email(s) en échec remis à l'envoi : {', '.join(map(str, ids))}")
    print(_where())
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    rem = group(sub, "reminders", "reminder emails to caseworkers")
    run = command(rem, "run", cmd_reminders_run, "queue the reminders due by a day (the daily scan)")
    run.add_argument("--date", type=day_arg, help="scan day, YYYY-MM-DD (default: today in Paris)")
    run.add_argument(
        "--digest", action="store_true",
        help="one email per caseworker for the day (or ACCOMPAGNEMENT_REMINDER_DIGEST=1)",
    )  # fmt: skip
    listing = command(rem, "list", cmd_reminders_list, "list reminders, newest due first")
    listing.add_argument("--failed", action="store_true", help="only those whose email failed")
    listing.add_argument("--status", choices=[s.value for s in ReminderStatus])
    listing.add_argument("--kind", choices=[k.value for k in ReminderKind])
    listing.add_argument("--case", help="case reference")
    listing.add_argument("--limit", type=LIMIT, default=50)
    retry = command(rem, "retry", cmd_reminders_retry, "send failed emails again")
    retry.add_argument("email_ids", type=ROW_ID, nargs="*", help="email ids (`reminders list --failed`)")
    retry.add_argument("--all-failed", action="store_true")
