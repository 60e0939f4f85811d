"""Reminders through the real database and a real SMTP server on loopback: each kind on its
day and not before, per convention; derived from the case, so a case that moves on drops them
without a write; one email per reminder
whatever the scans and redeliveries; recipients; SMTP down then up; nothing personal in a body."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from models import Case, Email, Reminder
from tasks.emails import send_now
from tests.conftest import Harness
from tests.factories import Story
from tests.smtp import SmtpSink
from tests.workers import Client, Worker, flush, wait_until
from workflow.adapters.reminder_rounds import CASE_COLUMNS
from workflow.application import outbox
from workflow.application.reminders import daily_scan
from workflow.domain.clock import paris_date
from workflow.domain.vocabulary import BARRIER_CODES, EmailStatus, ReminderKind, ReminderStatus

K = ReminderKind


def oriented(story: Story, **fields: Any) -> dict[str, Any]:
    """The orientation proposed by the orienteur O67 (the Story's default actor is the conseiller)."""
    return {**story.orientation(**fields), "actor": {"id": "O67", "role": "orienteur"}}


CONVENTIONS = ["35", "67", "82"]


def status_of(h: Harness, ref: str, kind: ReminderKind, due: date) -> str:
    found = [r.status for r in h.reminders(ref) if r.kind == kind and r.due_date == due]
    assert found, f"no {kind} reminder due {due} on {ref}: {[(r.kind, r.due_date) for r in h.reminders(ref)]}"
    return found[0]


def emails(h: Harness) -> list[Email]:
    with h.sessions() as session:
        rows = list(session.scalars(select(Email).order_by(Email.id)))
        session.expunge_all()
        return rows


def written(h: Harness, ref: str, kind: ReminderKind, due: date) -> bool:
    return any(r.kind == kind and r.due_date == due for r in h.reminders(ref))


@pytest.mark.parametrize("code", CONVENTIONS)
def test_before_the_contract_each_reminder_fires_on_its_day_and_not_a_day_before(
    harness: Harness, code: str
) -> None:
    story = Story(code)
    harness.apply(story.orientation())
    terms = harness.ctx.book.in_force(code, story.day).terms
    for kind, days in ((K.CONVOCATION, terms.convocation_days), (K.ENTREE, terms.entry_target_days)):
        due = story.day + timedelta(days)
        harness.scan(due - timedelta(1))
        assert (kind, due) in harness.upcoming(story.ref) and not written(harness, story.ref, kind, due)
        harness.scan(due)
        assert status_of(harness, story.ref, kind, due) == ReminderStatus.QUEUED
        assert (kind, due) not in harness.upcoming(story.ref)


@pytest.mark.parametrize("code", CONVENTIONS)
def test_under_contract_each_reminder_fires_on_its_day_and_not_a_day_before(
    harness: Harness, code: str
) -> None:
    story = Story(code)
    harness.apply(*story.until_contract())
    case = harness.case(story.ref)
    assert case.contract_start is not None and case.contract_end is not None
    with harness.sessions() as session:
        terms, _ = harness.ctx.terms(session, case, case.contract_start)
    dues = sorted(
        [(case.contract_start + timedelta(terms.first_appointment_days), K.RDV_NON_TENU)]
        + [(case.contract_end - timedelta(d), K.ECHEANCE) for d in terms.expiry_reminder_days]
        + [(case.contract_end + timedelta(1), K.ECHU)]
    )
    assert len(dues) == 4
    assert harness.upcoming(story.ref) == [
        (kind, due) for due, kind in sorted(dues, key=lambda d: (d[1], d[0]))
    ]
    assert harness.case(story.ref).next_reminder_on == dues[0][0]
    for due, kind in dues:
        harness.scan(due - timedelta(1))
        assert not written(harness, story.ref, kind, due), (kind, due)
        harness.scan(due)
        assert status_of(harness, story.ref, kind, due) == ReminderStatus.QUEUED, (kind, due)
    assert harness.upcoming(story.ref) == [] and harness.case(story.ref).next_reminder_on is None


def test_a_transition_writes_no_reminder_row(harness: Harness) -> None:
    """The plan is derived from the case: orienting, signing, renewing and leaving write the
    case row and its log row, never a reminder (cancelling one is free)."""
    story = Story()
    harness.apply(*story.until_contract(), story.renewal(days=150), story.exit("emploi", days=160))
    assert harness.reminders(story.ref) == []
    assert harness.case(story.ref).next_reminder_on is None


def test_a_planned_appointment_ends_the_convocation_reminder_on_its_day(harness: Harness) -> None:
    story = Story()
    harness.apply(story.orientation(), story.appointment(kind="diagnostic"))
    terms = harness.ctx.book.in_force(story.departement, story.day).terms
    due = harness.case(story.ref).orientation_date + timedelta(terms.convocation_days)
    report = harness.scan(due)
    assert status_of(harness, story.ref, K.CONVOCATION, due) == ReminderStatus.CANCELLED
    assert report.cancelled == {"un rendez-vous a été planifié": 1} and emails(harness) == []
    assert [kind for kind, _ in harness.upcoming(story.ref)] == [K.ENTREE]


def test_signing_the_contract_replaces_the_entry_reminder_by_the_contract_ones(harness: Harness) -> None:
    story = Story()
    harness.apply(*story.until_contract())
    assert sorted(kind for kind, _ in harness.upcoming(story.ref)) == sorted(
        [K.RDV_NON_TENU, K.ECHEANCE, K.ECHEANCE, K.ECHU]
    )
    oriented_on = harness.case(story.ref).orientation_date
    harness.scan(oriented_on + timedelta(30))  # past the entry target of every convention
    assert not any(r.kind in (K.ENTREE, K.CONVOCATION) for r in harness.reminders(story.ref))


def test_a_chunk_leaves_each_case_the_plan_row_by_row_leaves(harness: Harness) -> None:
    """The batch path applies a whole story in one chunk: the next reminder day is the same."""
    chunked, one_by_one = Story(), Story()
    report = harness.ingest_events(chunked.until_contract())
    assert report.applied == 4
    harness.apply(*one_by_one.until_contract())
    assert harness.case(chunked.ref).next_reminder_on == harness.case(one_by_one.ref).next_reminder_on
    assert [k for k, _ in harness.upcoming(chunked.ref)] == [k for k, _ in harness.upcoming(one_by_one.ref)]


def test_a_renewal_moves_the_expiry_reminders_to_the_new_end(harness: Harness) -> None:
    story = Story()
    harness.apply(*story.until_contract())
    old_end = harness.case(story.ref).contract_end
    harness.apply(story.renewal(days=150))
    new_end = harness.case(story.ref).contract_end
    assert old_end is not None and new_end is not None and new_end > old_end
    expiry = [(k, d) for k, d in harness.upcoming(story.ref) if k in (K.ECHEANCE, K.ECHU)]
    assert expiry and all(d > old_end + timedelta(1) for _, d in expiry)
    assert (K.ECHU, new_end + timedelta(1)) in expiry
    harness.scan(old_end + timedelta(1))
    assert not any(r.kind == K.ECHU for r in harness.reminders(story.ref))


def test_a_reminder_whose_day_passed_before_its_event_arrived_goes_at_the_next_scan(
    harness: Harness,
) -> None:
    """An event applied late (its contract signed weeks ago) still gets its reminders, once."""
    story = Story()
    harness.scan(story.day + timedelta(days=200))  # the scans ran on those days: nothing then
    harness.apply(*story.until_contract())
    start = harness.case(story.ref).contract_start
    assert start is not None
    report = harness.scan(start + timedelta(days=40))
    assert report.queued[K.RDV_NON_TENU] == 1
    assert harness.scan(start + timedelta(days=41)).due == 0


def test_an_exit_leaves_nothing_to_come_and_nothing_is_sent_afterwards(harness: Harness) -> None:
    story = Story()
    harness.apply(*story.until_contract(), story.exit("emploi", days=3))
    assert harness.upcoming(story.ref) == [] and harness.case(story.ref).next_reminder_on is None
    report = harness.scan(story.day + timedelta(days=400))
    assert report.due == 0 and emails(harness) == [] and harness.reminders(story.ref) == []


def test_held_first_appointments_end_their_reminder_on_its_due_day(harness: Harness) -> None:
    both, one = Story(), Story()
    for story, kinds in ((both, ("social", "emploi")), (one, ("emploi",))):
        harness.apply(*story.until_contract())
        for kind in kinds:
            planned = story.appointment(kind=kind, in_days=3)
            harness.apply(planned, story.outcome(planned["appointment_id"], days=3))
    start = harness.case(both.ref).contract_start
    assert start is not None
    due = start + timedelta(31)
    report = harness.scan(due)
    assert status_of(harness, both.ref, K.RDV_NON_TENU, due) == ReminderStatus.CANCELLED
    assert status_of(harness, one.ref, K.RDV_NON_TENU, due) == ReminderStatus.QUEUED
    assert report.cancelled == {"les premiers rendez-vous social et emploi ont été tenus": 1}


def test_an_expired_contract_flags_the_case_for_the_revue_until_a_decision(harness: Harness) -> None:
    story = Story()
    harness.apply(*story.until_contract())
    end = harness.case(story.ref).contract_end
    assert end is not None
    report = harness.scan(end + timedelta(1))
    assert report.flagged == 1
    case = harness.case(story.ref)
    assert (case.revue_flag, case.revue_flagged_on) == (K.ECHU, end + timedelta(1))
    story.day = end + timedelta(2)
    harness.apply(story.renewal())
    assert harness.case(story.ref).revue_flag is None


def test_two_scans_at_once_queue_each_reminder_once(harness: Harness) -> None:
    """The second scan waits for the first (an advisory lock on PostgreSQL, the write lock on
    SQLite), then finds nothing due."""
    stories = [Story() for _ in range(40)]
    harness.apply(*(s.orientation() for s in stories))
    due = stories[0].day + timedelta(15)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: daily_scan.scan(harness.uow(), harness.ctx, due), range(2)))
    assert sum(sum(r.queued.values()) for r in reports) == 40
    assert len(emails(harness)) == 40
    assert sorted(r.due for r in reports) == [0, 40]


@pytest.mark.postgres(reason="SQLite: the round holds the database's write lock")
def test_a_case_an_event_changed_while_a_scan_round_ran_is_read_again(harness: Harness) -> None:
    """PostgreSQL: the scan takes no row lock on the cases it reads; a round moves a case on only
    if its log head is still the one it read. (SQLite: a round holds the write lock, no event
    runs meanwhile.)"""
    story = Story()
    harness.apply(*story.until_contract())
    due = harness.case(story.ref).next_reminder_on
    assert due is not None
    with harness.sessions() as session:  # what the round read, before the event below
        stale = session.execute(select(*CASE_COLUMNS).where(Case.reference == story.ref)).all()
    harness.apply(story.exit("emploi", days=3))
    report = daily_scan.ScanReport(due)
    uow = harness.uow()
    with uow:
        daily_scan._round(uow, harness.ctx, due, stale, False, report)
        uow.commit()
    assert report.due == 0 and harness.reminders(story.ref) == [] and emails(harness) == []
    assert harness.case(story.ref).next_reminder_on is None  # as the exit left it
    assert harness.scan(due).due == 0


def test_repeated_scans_queue_a_reminder_once(harness: Harness) -> None:
    story = Story()
    harness.apply(story.orientation())
    due = story.day + timedelta(15)
    first = harness.scan(due)
    again = harness.scan(due)
    later = harness.scan(due + timedelta(3))
    assert first.queued == {K.CONVOCATION: 1}
    assert again.due == 0 and later.due == 0
    assert len(emails(harness)) == 1


# --- through SMTP -----------------------------------------------------------------------


def test_a_missed_first_appointment_of_a_brsa_is_mailed_at_once_to_the_ag_referent_of_the_territory(
    mailing: Harness, smtp: SmtpSink
) -> None:
    story = Story(status="BRSA")
    planned = story.appointment(kind="emploi", days=1)
    mailing.apply(oriented(story), story.binome(), planned)
    assert smtp.received == []
    mailing.apply(story.outcome(planned["appointment_id"], kind="appointment_missed"))
    (mail,) = smtp.wait_for(1)
    assert sorted(mail.recipients) == ["agnes@cd67.example", "claire@ft.example", "olga@cd67.example"]
    assert "premier rendez-vous avec le conseiller emploi" in mail.text
    assert mail.message["Subject"].startswith("[Accompagnement global] Absence au premier rendez-vous")
    assert status_of(mailing, story.ref, K.RDV_EMPLOI_MANQUE, story.day) == ReminderStatus.QUEUED


def test_a_missed_first_appointment_of_a_non_brsa_leaves_the_ag_referent_out(
    mailing: Harness, smtp: SmtpSink
) -> None:
    story = Story(status="ARE")
    planned = story.appointment(kind="social", days=1)
    mailing.apply(oriented(story), story.binome(), planned)
    mailing.apply(story.outcome(planned["appointment_id"], kind="appointment_missed"))
    (mail,) = smtp.wait_for(1)
    assert sorted(mail.recipients) == ["olga@cd67.example", "remi@cd67.example"]


def test_without_a_referent_ag_in_the_territory_the_departement_one_is_told(
    mailing: Harness, smtp: SmtpSink
) -> None:
    story = Story(status="BRSA")
    story.referent = "R67B"  # UTAMS Sud: no AG referent of its own
    planned = story.appointment(kind="social", days=1)
    mailing.apply(oriented(story), story.binome(), planned)
    mailing.apply(story.outcome(planned["appointment_id"], kind="appointment_missed"))
    (mail,) = smtp.wait_for(1)
    assert sorted(mail.recipients) == ["alain@cd67.example", "olga@cd67.example", "rose@cd67.example"]


def test_only_a_first_appointment_missed_raises_the_reminder(mailing: Harness, smtp: SmtpSink) -> None:
    story = Story()
    first = story.appointment(kind="emploi", days=1)
    mailing.apply(story.orientation(), story.binome(), first, story.outcome(first["appointment_id"]))
    second = story.appointment(kind="emploi")
    mailing.apply(second, story.outcome(second["appointment_id"], kind="appointment_missed"))
    assert smtp.received == []
    assert not [r for r in mailing.reminders(story.ref) if r.kind == K.RDV_EMPLOI_MANQUE]


def test_one_email_per_reminder_across_scans_and_redelivered_tasks(mailing: Harness, smtp: SmtpSink) -> None:
    story = Story()
    mailing.apply(story.orientation())
    due = story.day + timedelta(15)
    mailing.scan(due)
    mailing.scan(due)
    (mail,) = smtp.wait_for(1)
    (email,) = emails(mailing)
    send_now([email.id])  # the same task delivered again
    send_now([email.id])
    assert len(smtp.received) == 1
    (sent,) = emails(mailing)
    assert (sent.status, sent.attempts) == (EmailStatus.SENT, 1)
    assert mail.message["Message-ID"] == f"<reminder.{email.key.split(':')[1]}.{email.id}@ag.example>"
    assert mail.recipients == ["claire@ft.example"]
    # Dated when the service's clock wrote it (the scan's day here, the simulated day in the demo).
    dated = parsedate_to_datetime(mail.message["Date"])
    assert dated == sent.created_at.replace(microsecond=0) and paris_date(dated) == due


def test_smtp_down_then_up_the_email_fails_visibly_then_goes_once_retried(
    mailing: Harness, smtp: SmtpSink
) -> None:
    story = Story()
    mailing.apply(story.orientation())
    smtp.stop()
    mailing.scan(story.day + timedelta(15))  # in-process: the failed attempt stays pending
    (email,) = emails(mailing)
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert email.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    for _ in range(outbox.MAX_ATTEMPTS - 1):  # the sweeps of the following runs
        send_now([email.id])
    (email,) = emails(mailing)
    assert (email.status, email.attempts) == (EmailStatus.FAILED, outbox.MAX_ATTEMPTS)
    with mailing.sessions() as session:
        failed = session.scalar(
            select(func.count()).select_from(Email).where(Email.status == EmailStatus.FAILED)
        )
    assert failed == 1
    smtp.start()
    send_now([email.id])  # a failed email is not sent by a stray task
    assert smtp.received == []
    ids = outbox.retry_failed(mailing.uow(), None)
    assert ids == [email.id]
    send_now(ids)
    send_now(ids)
    assert len(smtp.wait_for(1)) == 1
    assert emails(mailing)[0].status == EmailStatus.SENT


def test_a_digest_gathers_a_caseworkers_reminders_of_the_day(mailing: Harness, smtp: SmtpSink) -> None:
    stories = [Story(), Story()]
    for story in stories:
        mailing.apply(story.orientation())
    mailing.scan(stories[0].day + timedelta(15), digest=True)
    (mail,) = smtp.wait_for(1)
    assert mail.recipients == ["claire@ft.example"]
    assert "2 rappels" in mail.message["Subject"]
    assert all(s.ref in mail.text for s in stories)


def test_no_email_body_carries_a_barrier_health_or_status_word(mailing: Harness, smtp: SmtpSink) -> None:
    story = Story(status="BRSA")
    barriers: dict[str, Any] = {
        "social": ["sante", "logement", "precarite_financiere"],
        "professional": ["mobilite"],
    }
    missed = story.appointment(kind="social", days=1)
    mailing.apply(oriented(story, barriers=barriers), story.binome(), missed)
    mailing.apply(story.outcome(missed["appointment_id"], kind="appointment_missed"))
    mailing.scan(story.day + timedelta(30))  # the entry delay
    received = smtp.wait_for(2)
    assert len(received) == 2
    for mail in received:
        body = (mail.text + mail.html + str(mail.message["Subject"])).lower()
        for word in (*BARRIER_CODES, "santé", "brsa", "rsa ", story.ft.lower()):
            assert word not in body, f"{word!r} in {mail.message['Subject']}"


def test_the_emails_of_a_run_share_one_smtp_connection_and_a_refusal_costs_only_its_email(
    mailing: Harness, smtp: SmtpSink
) -> None:
    """Four reminders of one scan, the server refusing the first message: that email stays
    pending for a retry, and the three others go together on one fresh connection."""
    stories = [Story() for _ in range(4)]
    for story in stories:
        mailing.apply(story.orientation())
    smtp.handler.refuse = 1
    mailing.scan(stories[0].day + timedelta(15))
    assert len(smtp.wait_for(3)) == 3
    assert smtp.handler.connections == 2  # the refusal closed the first one
    statuses = sorted(e.status for e in emails(mailing))
    assert statuses == [EmailStatus.PENDING] + [EmailStatus.SENT] * 3


def test_scan_counts_reflect_the_database(harness: Harness) -> None:
    stories = [Story() for _ in range(3)]
    for story in stories:
        harness.apply(story.orientation())
    harness.apply(stories[0].appointment(kind="diagnostic"))
    report = harness.scan(stories[0].day + timedelta(30))
    assert report.queued == {K.ENTREE: 3, K.CONVOCATION: 2}
    with harness.sessions() as session:
        queued = session.scalar(
            select(func.count())
            .select_from(Reminder)
            .join(Case)
            .where(Reminder.status == ReminderStatus.QUEUED)
        )
    assert queued == 5


# --- through a real worker ---------------------------------------------------------------


def test_a_worker_retries_with_backoff_while_smtp_is_down_and_sends_once_when_it_is_back(
    harness: Harness, smtp: SmtpSink, database_url: str, broker_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A missed first appointment applied by the worker: its email is queued after the commit,
    the SMTP server refuses it twice, then takes it; a redelivered send task changes nothing."""
    monkeypatch.setenv("ACCOMPAGNEMENT_SMTP_RETRY_SECONDS", "1")  # 1, 2, 4, 8 s: room to come back
    flush(broker_url)
    worker = Worker(database_url, broker_url, tmp_path / "worker.log")
    worker.start()
    try:
        smtp.stop()
        story = Story()
        planned = story.appointment(kind="emploi", days=1)
        client = Client(broker_url)
        missed = story.outcome(planned["appointment_id"], kind="appointment_missed")
        client.batch([oriented(story), story.binome(), planned, missed])
        wait_until(
            lambda: any(e.attempts >= 2 and e.status == EmailStatus.PENDING for e in emails(harness)),
            what="two refused attempts",
        )
        smtp.start()
        wait_until(lambda: [e.status for e in emails(harness)] == [EmailStatus.SENT], what="the email sent")
        (email,) = emails(harness)
        assert email.attempts >= 3
        client.send("accompagnement.send_emails", [[email.id]])  # redelivered
        time.sleep(2)
    finally:
        worker.stop()
        flush(broker_url)
    (mail,) = smtp.received
    assert sorted(mail.recipients) == ["agnes@cd67.example", "claire@ft.example", "olga@cd67.example"]
