"""The task that sends reminder emails.

A unit of work hands the ids of its committed emails to `tasks.runtime.queue_emails` (the
outbox promise, `workflow.adapters.unit_of_work`), which queues this task by groups of
DISPATCH_GROUP ids. The task claims its emails in one transaction (so a redelivered task sends
nothing twice), delivers each over one SMTP connection, and records the outcome by groups; SMTP
failures are retried with backoff until `workflow.application.outbox.MAX_ATTEMPTS`, then the
email is `failed`.
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
from typing import Any

from celery import Task

from tasks.app import app
from tasks.mail import Mailer, MailSettings
from tasks.runtime import SEND_EMAILS, runtime
from workflow.adapters import metrics
from workflow.application.outbox import claim, mark_failure, mark_sent

log = logging.getLogger(__name__)


def _retry_after(attempt: int) -> float:
    """Backoff with jitter: about 1, 2, 4, 8 minutes by default (ACCOMPAGNEMENT_SMTP_RETRY_SECONDS
    is the first step), far below the broker's visibility timeout."""
    base = float(os.environ.get("ACCOMPAGNEMENT_SMTP_RETRY_SECONDS", "60"))
    return float(base * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))


# Sent emails are recorded by groups of this many: a sender that dies between sending and
# recording sends at most these again once their lease is over.
RECORD_EVERY = 50


@app.task(name=SEND_EMAILS, bind=True, max_retries=None)
def send_emails(task: Task, email_ids: list[int]) -> dict[str, Any]:
    rt = runtime()
    settings = MailSettings.from_env()
    ids = [int(i) for i in email_ids]
    drafts = claim(rt.uow(), rt.ctx, ids)  # the group at once: so a redelivered task sends nothing twice
    sent: list[int] = []
    again, attempt, done = [], 1, 0
    with Mailer(settings) as mailer:  # one SMTP connection for the group
        for draft in drafts:
            try:
                where = mailer.deliver(draft)
            except (smtplib.SMTPException, OSError) as exc:
                log.warning("email %s, tentative %d : %s", draft.key, draft.attempt, exc)
                if mark_failure(rt.uow(), rt.ctx, draft.email_id, f"{type(exc).__name__}: {exc}"):
                    again.append(draft.email_id)
                    attempt = max(attempt, draft.attempt)
                    metrics.EMAILS.labels("retried").inc()
                else:
                    metrics.EMAILS.labels("failed").inc()
                continue
            log.info("email %s envoyé à %s", draft.key, where)
            sent.append(draft.email_id)
            if len(sent) >= RECORD_EVERY:
                mark_sent(rt.uow(), rt.ctx, sent)
                metrics.EMAILS.labels("sent").inc(len(sent))
                done, sent = done + len(sent), []
    if sent:
        mark_sent(rt.uow(), rt.ctx, sent)
        metrics.EMAILS.labels("sent").inc(len(sent))
        done += len(sent)
    if again and not task.request.is_eager:
        raise task.retry(args=[again], countdown=_retry_after(attempt))
    # In-process (no broker) the failed emails stay pending: the next `reminders run` sends them.
    return {"sent": done, "retrying": len(again), "skipped": len(ids) - len(drafts)}


def send_now(email_ids: list[int]) -> None:
    """Send committed emails in this process, whatever the broker (the demo's emails)."""
    send_emails.apply(args=[email_ids])
