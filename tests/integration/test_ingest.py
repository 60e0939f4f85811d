"""Ingestion: good lines apply, bad lines are explained and stored, nothing lands half-way."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from models import Appointment, Case, InboxEvent, ProcessedEvent, RejectedEvent, TransitionLog
from tests.conftest import Harness
from tests.factories import Story
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.handling import HandledAs
from workflow.application.inbox import LEASE, MAX_DEFERRALS, backlog, drain_waiting, receive
from workflow.application.ingest import retry_rejection
from workflow.domain.clock import ManualClock
from workflow.domain.errors import NotFound, TransitionRefused, WorkflowError


def counts(h: Harness) -> dict[str, int]:
    with h.sessions() as s:
        return {
            table.__tablename__: s.scalar(select(func.count()).select_from(table)) or 0
            for table in (Case, TransitionLog, ProcessedEvent, RejectedEvent, Appointment)
        }


def rejected(h: Harness) -> list[RejectedEvent]:
    with h.sessions() as s:
        rows = list(s.scalars(select(RejectedEvent).order_by(RejectedEvent.id)))
        s.expunge_all()
        return rows


def test_a_file_of_good_events_takes_a_case_to_its_contract(harness: Harness) -> None:
    story = Story()
    report = harness.ingest_events(story.until_contract())
    assert (report.applied, report.duplicates, report.rejected) == (4, 0, 0)
    case = harness.case(story.ref)
    assert case.state == "contrat"
    assert [r.trigger for r in harness.log(story.ref)] == [
        "orienter", "affecter_binome", "poser_diagnostic", "signer_contrat",
    ]  # fmt: skip


def test_a_replayed_event_changes_nothing_and_says_so(harness: Harness) -> None:
    story = Story()
    events = story.until_contract()
    harness.ingest_events(events)
    before = counts(harness)
    report = harness.ingest_events(events)
    assert (report.applied, report.duplicates, report.rejected) == (0, 4, 0)
    assert counts(harness) == before
    outcome = harness.apply(events[1])[0]
    assert outcome.status == HandledAs.DUPLICATE and "déjà appliqué le" in outcome.message


def test_the_same_event_twice_in_one_file_applies_once(harness: Harness) -> None:
    story = Story()
    orientation = story.orientation()
    report = harness.ingest_events([orientation, orientation, story.binome()])
    assert (report.applied, report.duplicates) == (2, 1)


def test_a_reused_event_id_with_other_content_is_rejected(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation(), story.binome()])
    forged = story.diagnostic()
    forged["event_id"] = f"{story.ref}-2"
    report = harness.ingest_events([forged])
    assert report.rejected == 1
    assert "déjà pris par un autre événement binome_assigned" in report.rejections[0].reason
    assert harness.case(story.ref).state == "reperage"


def test_bad_lines_are_reported_by_line_number_and_good_lines_still_apply(harness: Harness) -> None:
    story = Story()
    missing = story.binome()
    del missing["conseiller_id"]
    naive = story.diagnostic()
    naive["occurred_at"] = "2026-03-10 10:00"
    unknown = {**story.contract(), "type": "contract_cancelled"}
    lines = [
        json.dumps(story.orientation()),
        "{not json",
        json.dumps(missing),
        "",
        json.dumps(unknown),
        json.dumps(naive),
        json.dumps(story.binome(days=0)),
    ]
    report = harness.ingest(lines, source="flux.jsonl")
    assert (report.applied, report.rejected) == (2, 4)
    where = {r.source: r.reason for r in report.rejections}
    assert where["flux.jsonl:2"].startswith("JSON mal formé")
    assert where["flux.jsonl:3"] == "champ 'conseiller_id' manquant"
    assert where["flux.jsonl:5"].startswith("type d'événement inconnu 'contract_cancelled'")
    assert where["flux.jsonl:6"].startswith("champ 'occurred_at'")
    stored = rejected(harness)
    assert [r.source for r in stored] == ["flux.jsonl:2", "flux.jsonl:3", "flux.jsonl:5", "flux.jsonl:6"]
    assert stored[0].raw == "{not json"
    assert stored[1].event_id == missing["event_id"] and stored[1].type == "binome_assigned"
    assert harness.case(story.ref).conseiller_id == "C67"


def test_an_illegal_transition_is_a_rejection_with_the_guards_message(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation(), story.binome()])
    before = counts(harness)
    report = harness.ingest_events([story.contract()])
    assert report.rejected == 1
    reason = report.rejections[0].reason
    assert reason.startswith(
        "refus de « Signature du contrat » dans l'état « Repérage » : possible seulement depuis"
    )
    after = counts(harness)
    assert after["rejected_event"] == before["rejected_event"] + 1
    assert {k: v for k, v in after.items() if k != "rejected_event"} == {
        k: v for k, v in before.items() if k != "rejected_event"
    }


def test_a_refused_diagnostic_leaves_no_trace_on_the_case(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation(), story.binome()])
    refused = story.diagnostic(
        referent_opinion="defavorable", barriers={"social": ["sante"], "professional": ["mobilite"]}
    )
    report = harness.ingest_events([refused])
    assert "un désaccord se discute à la revue de portefeuille" in report.rejections[0].reason
    case = harness.case(story.ref)
    assert (case.state, case.barriers, case.diagnostic_kind) == ("reperage", ["logement", "mobilite"], None)
    assert len(harness.log(story.ref)) == 2


def test_an_ineligible_person_is_refused_at_the_diagnostic(harness: Harness) -> None:
    story = Story()
    harness.ingest_events(
        [story.orientation(barriers={"social": [], "professional": ["mobilite"]}), story.binome()]
    )
    report = harness.ingest_events([story.diagnostic()])
    assert "aucun frein social n'est relevé (convention 004 art. 2 b" in report.rejections[0].reason


def test_unknown_references_are_rejected(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation()])
    stranger = story.binome()
    stranger["actor"] = {"id": "NOBODY", "role": "conseiller"}
    wrong_role = story.binome()
    wrong_role["conseiller_id"] = "R67"
    report = harness.ingest_events([stranger, wrong_role, Story().binome(), Story().radiation()])
    reasons = [r.reason for r in report.rejections]
    assert "l'acteur NOBODY n'est pas dans l'annuaire des professionnels" in reasons[0]
    assert reasons[1] == "le conseiller R67 est Référent social, pas Conseiller France Travail"
    assert reasons[2].startswith("dossier inconnu AG-")
    assert reasons[3].startswith("personne inconnue FT")


def test_an_inactive_professional_cannot_act(harness: Harness) -> None:
    story = Story()
    event = story.orientation()
    event["actor"] = {"id": "OLD", "role": "conseiller"}
    assert "OLD n'est plus actif" in harness.ingest_events([event]).rejections[0].reason


def test_a_person_cannot_have_two_open_cases(harness: Harness) -> None:
    first = Story()
    second = Story()
    second.ft = first.ft
    harness.ingest_events([first.orientation()])
    report = harness.ingest_events([second.orientation()])
    assert f"a déjà un dossier ouvert, {first.ref}" in report.rejections[0].reason


def test_the_end_of_registration_closes_the_open_case(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([*story.until_contract(), story.registration_ended(days=20)])
    case = harness.case(story.ref)
    assert (case.state, case.exit_reason, case.person.registered) == ("sortie", "fin_inscription", False)
    last = harness.log(story.ref)[-1]
    assert (last.actor_id, last.actor_role, last.reason) == ("systeme", "systeme", "fin_inscription")


def test_appointments_are_planned_and_their_outcome_recorded_once(harness: Harness) -> None:
    story = Story()
    planned = story.appointment(kind="diagnostic")
    held = story.outcome(planned["appointment_id"])
    again = story.outcome(planned["appointment_id"], kind="appointment_missed")
    report = harness.ingest_events([story.orientation(), planned, held, again])
    assert report.applied == 3
    assert report.rejections[0].reason.endswith("est déjà enregistré : Honoré")


def test_an_event_dated_before_the_orientation_is_refused(harness: Harness) -> None:
    story = Story()
    exit_event: dict[str, Any] = story.exit("fin_explicite", effective_on="2020-01-01")
    report = harness.ingest_events([story.orientation(), exit_event])
    assert "précède l'orientation" in report.rejections[0].reason


def test_a_rejected_event_applies_on_retry_once_the_cause_is_fixed(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation()])
    early_contract = story.contract(days=9)
    report = harness.ingest_events([early_contract])
    assert report.rejected == 1
    harness.ingest_events([story.binome(days=0), story.diagnostic(days=0)])
    [row] = rejected(harness)
    outcome = retry_rejection(UnitOfWork(harness.sessions), harness.ctx, row.id)
    assert outcome.status == HandledAs.APPLIED
    assert harness.case(story.ref).state == "contrat"
    [row] = rejected(harness)
    assert row.resolved_at is not None and str(row.resolution).startswith("appliqué à la relance")
    with pytest.raises(WorkflowError, match="a déjà été résolu"):
        retry_rejection(UnitOfWork(harness.sessions), harness.ctx, row.id)


def test_a_retry_that_is_still_refused_leaves_the_rejection_open(harness: Harness) -> None:
    story = Story()
    harness.ingest_events([story.orientation(), story.contract()])
    [row] = rejected(harness)
    with pytest.raises(TransitionRefused, match="dans l'état « Repérage » : possible seulement depuis"):
        retry_rejection(UnitOfWork(harness.sessions), harness.ctx, row.id)
    assert rejected(harness)[0].resolved_at is None
    with pytest.raises(NotFound):
        retry_rejection(UnitOfWork(harness.sessions), harness.ctx, 999_999)


def test_case_show_tracks_the_first_follow_up_appointments_deadline(harness: Harness) -> None:
    from workflow.application.queries.case_view import case_view

    story = Story()
    harness.ingest_events(story.until_contract())
    with harness.sessions() as s:
        view = case_view(s, harness.ctx, story.ref)
    first = next(d for d in view["deadlines"] if d["name"] == "premiers rendez-vous social et emploi")
    assert first["due"] == "2026-04-13" and first["status"] != "tenue"  # signed 13 March + 31 days
    social, emploi = story.appointment("social", days=1), story.appointment("emploi", days=0)
    harness.ingest_events([social, emploi])
    with harness.sessions() as s:
        view = case_view(s, harness.ctx, story.ref)
    assert (
        next(d for d in view["deadlines"] if d["name"].startswith("premiers rendez-vous"))["status"]
        == "tenue"
    )


def later(harness: Harness, seconds: float) -> None:
    assert isinstance(harness.ctx.clock, ManualClock)
    harness.ctx.clock.set(harness.ctx.clock.now() + timedelta(seconds=seconds))


def test_an_event_of_a_case_not_opened_yet_waits_for_its_orientation(harness: Harness) -> None:
    """The likeliest out-of-order event: a worker defers it in its row (the orientation may be
    sent late); a file, which has no later, rejects it."""
    story = Story()
    orientation, binome = story.orientation(), story.binome()
    receipt = receive(harness.uow(), harness.ctx, [("si:1", json.dumps(binome))], "si")

    first = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    assert (first.ingest.deferred, first.ingest.rejected) == (1, 0)
    with harness.sessions() as session:
        row = session.get(InboxEvent, receipt.pending[0])
        assert row is not None and (row.status, row.deferrals) == ("pending", 1)
        assert row.not_before == harness.ctx.clock.now() + timedelta(seconds=2)
    assert drain_waiting(harness.uow(), harness.ctx, 10, defer=True).taken == 0  # not before its time
    harness.apply(orientation)
    later(harness, 2)
    second = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    assert (second.ingest.applied, second.ingest.deferred) == (1, 0)
    assert harness.case(story.ref).conseiller_id == story.conseiller

    report = harness.ingest_events([Story().binome()])
    assert report.rejected == 1 and "dossier inconnu" in report.rejections[0].reason


def test_a_premature_event_is_rejected_after_its_last_deferral(harness: Harness) -> None:
    receive(harness.uow(), harness.ctx, [("si:1", json.dumps(Story().binome()))], "si")
    waits = []
    for _ in range(MAX_DEFERRALS):
        drained = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
        assert drained.ingest.deferred == 1
        with harness.sessions() as session:
            (not_before,) = session.scalars(select(InboxEvent.not_before)).all()
        assert not_before is not None
        waits.append((not_before - harness.ctx.clock.now()).total_seconds())
        later(harness, waits[-1])
    last = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    assert waits == [2, 4, 8, 16]
    assert (last.ingest.deferred, last.ingest.rejected) == (0, 1)
    assert "dossier inconnu" in last.ingest.rejections[0].reason


def test_an_event_on_a_closed_case_is_rejected_at_once_even_by_a_worker(harness: Harness) -> None:
    story = Story()
    harness.apply(story.orientation(), story.binome(), story.exit("sans_entree_refus"))
    late = story.diagnostic()
    receive(harness.uow(), harness.ctx, [("si:1", json.dumps(late))], "si")

    drained = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)

    assert (drained.ingest.deferred, drained.ingest.rejected) == (0, 1)
    assert "dans l'état « Sortie » : possible seulement depuis" in drained.ingest.rejections[0].reason


def test_a_message_received_again_after_its_events_were_applied_answers_as_the_first_time(
    harness: Harness,
) -> None:
    """A redelivered Celery message (same task id) stores nothing twice and queues nothing."""
    story = Story()
    items = [("si:1", json.dumps(story.orientation())), ("si:2", "{not json")]
    first = receive(harness.uow(), harness.ctx, items, "si", submission="task-1")
    drain_waiting(harness.uow(), harness.ctx, 10, defer=False)

    again = receive(harness.uow(), harness.ctx, items, "si", submission="task-1")

    assert (
        [v.status for v in again.verdicts] == [v.status for v in first.verdicts] == ["accepted", "rejected"]
    )
    assert again.pending == [] and len(first.pending) == 1
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
        # its rejected line is counted once, as its one inbox row is
        assert session.scalars(select(RejectedEvent.occurrences)).all() == [1]


def test_events_sent_one_by_one_are_taken_by_micro_batches_in_arrival_order(harness: Harness) -> None:
    """What arrives one event per request waits in the inbox; a worker's drain takes the oldest
    waiting rows, a batch at a time, through the batch path."""
    story = Story()
    sent = [story.orientation(), story.binome(), story.diagnostic(), story.contract()]
    for n, event in enumerate(sent):  # four requests, one event each
        receive(harness.uow(), harness.ctx, [(f"http:{n}", json.dumps(event))], "http:si")

    first = drain_waiting(harness.uow(), harness.ctx, 3, defer=True)
    second = drain_waiting(harness.uow(), harness.ctx, 3, defer=True)
    third = drain_waiting(harness.uow(), harness.ctx, 3, defer=True)

    assert (first.taken, first.ingest.applied) == (3, 3)
    assert (second.taken, second.ingest.applied) == (1, 1)
    assert third.taken == 0
    assert harness.case(story.ref).state == "contrat"
    with harness.sessions() as session:
        taken_at = session.execute(select(InboxEvent.id, InboxEvent.claimed_at).order_by(InboxEvent.id)).all()
    assert len({at for _, at in taken_at[:3]}) == 1  # one taking for the first three


def hold(harness: Harness, row_id: int) -> None:
    """Another worker took this row a moment ago and is still applying it."""
    with harness.sessions() as session:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == row_id)
            .values(claimed_at=harness.ctx.clock.now(), attempts=1)
        )
        session.commit()


def test_a_person_another_worker_holds_is_left_to_it_and_others_go_on(harness: Harness) -> None:
    """The rows behind a row another worker holds are not taken, even if they look applicable:
    they are that person's next ones. Another person's rows are taken meanwhile."""
    held, free = Story(), Story()
    rows = [
        receive(harness.uow(), harness.ctx, [(f"http:{n}", json.dumps(e))], "http:si").pending[0]
        for n, e in enumerate([held.orientation(), free.orientation(), held.binome(), free.binome()])
    ]
    hold(harness, rows[0])

    drained = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)

    assert (drained.taken, drained.ingest.applied, drained.ingest.deferred) == (2, 2, 0)
    with harness.sessions() as session:
        status = dict(session.execute(select(InboxEvent.id, InboxEvent.status)).all())
    assert [status[r] for r in rows] == ["pending", "applied", "pending", "applied"]


def test_a_dead_workers_person_is_freed_when_its_claim_runs_out(harness: Harness) -> None:
    story = Story()
    rows = [
        receive(harness.uow(), harness.ctx, [(f"http:{n}", json.dumps(e))], "http:si").pending[0]
        for n, e in enumerate([story.orientation(), story.binome()])
    ]
    hold(harness, rows[0])
    assert drain_waiting(harness.uow(), harness.ctx, 10, defer=True).taken == 0
    later(harness, LEASE.total_seconds() + 1)

    drained = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)

    assert (drained.taken, drained.ingest.applied) == (2, 2)
    with harness.sessions() as session:
        assert session.scalars(select(InboxEvent.attempts).order_by(InboxEvent.id)).all() == [2, 1]


def test_a_deferred_event_does_not_hold_the_rows_behind_it(harness: Harness) -> None:
    """A person's event sent before the one it follows waits; the rows behind it (here, the
    late predecessor) are applied meanwhile, and it is tried again after them."""
    story = Story()
    harness.apply(story.orientation(), story.binome())
    diagnostic, contract = story.diagnostic(), story.contract()
    for n, event in enumerate([contract, diagnostic]):  # the contract before its diagnostic
        receive(harness.uow(), harness.ctx, [(f"http:{n}", json.dumps(event))], "http:si")

    first = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    assert (first.ingest.deferred, first.ingest.applied) == (1, 1)
    later(harness, 2)
    second = drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    assert (second.taken, second.ingest.applied) == (1, 1)
    assert harness.case(story.ref).state == "contrat"


def test_each_event_is_stored_in_its_persons_line(harness: Harness) -> None:
    """The order key: an orientation's person; a known case's person; a case whose orientation
    waits in the inbox, or comes earlier in the same submission, that one's; a registration
    event the person it names; a case nobody oriented, a line of its own."""
    applied, waiting, same = Story(), Story(), Story()
    harness.apply(applied.orientation())
    receive(harness.uow(), harness.ctx, [("si:0", json.dumps(waiting.orientation()))], "si")
    nobody = Story()
    items = [applied.binome(), waiting.binome(), same.orientation(), same.binome(), nobody.binome(),
             applied.registration_ended()]  # fmt: skip
    lines = [(f"si:{n}", json.dumps(event)) for n, event in enumerate(items, start=1)] + [("si:9", "{")]
    receipt = receive(harness.uow(), harness.ctx, lines, "si")
    with harness.sessions() as session:
        keys = dict(session.execute(select(InboxEvent.position, InboxEvent.person_key)
                                    .where(InboxEvent.submission == receipt.submission)).all())  # fmt: skip
    assert [keys[p] for p in range(7)] == [
        applied.ft,
        waiting.ft,
        same.ft,
        same.ft,
        f"dossier:{nobody.ref}",
        applied.ft,
        None,
    ]


def test_a_copy_sent_while_the_first_waits_is_a_duplicate(harness: Harness) -> None:
    """A resent event whose first copy is still pending is a duplicate at the door, never a
    second event the rules would refuse; the same id with another payload is refused."""
    story = Story()
    orientation = story.orientation()
    first = receive(harness.uow(), harness.ctx, [("si:1", json.dumps(orientation))], "si")
    again = receive(harness.uow(), harness.ctx, [("si:1", json.dumps(orientation)),
                                                 ("si:2", json.dumps(orientation))], "si")  # fmt: skip
    reused = {**story.binome(), "event_id": orientation["event_id"]}
    other = receive(harness.uow(), harness.ctx, [("si:3", json.dumps(reused))], "si")

    assert [v.status for v in first.verdicts] == ["accepted"]
    assert [v.status for v in again.verdicts] == ["duplicate", "duplicate"]
    assert again.verdicts[0].reason is not None and "pas encore appliqué" in again.verdicts[0].reason
    assert [v.status for v in other.verdicts] == ["rejected"]
    assert drain_waiting(harness.uow(), harness.ctx, 10, defer=True).ingest.applied == 1
    with harness.sessions() as session:
        rejected = session.scalars(select(RejectedEvent.reason)).all()
    assert len(rejected) == 1 and "déjà pris par un autre événement" in rejected[0]


def test_each_stored_event_carries_the_departement_that_routes_it(harness: Harness) -> None:
    """The route key: an orientation's convention (by default its person's département), a
    known case's convention, a case whose orientation still waits in the inbox takes that one's,
    a registration event its person's open case; an unknown case or an unreadable line, none."""
    applied, waiting, elsewhere = Story("67"), Story("35"), Story("35")
    harness.apply(applied.orientation())
    items = [
        applied.binome(),
        waiting.orientation(),
        waiting.binome(),
        elsewhere.orientation(convention="82"),
        Story("67").binome(),  # a case nobody oriented
        Story("35").orientation(convention="00"),  # no such convention: no département's workers
        applied.registration_ended(),
        Story("35").registration_ended(),  # a person with no case
    ]
    lines = [(f"si:{n}", json.dumps(event)) for n, event in enumerate(items, start=1)] + [("si:9", "{")]
    receipt = receive(harness.uow(), harness.ctx, lines, "si")
    assert [v.departement for v in receipt.verdicts] == ["67", "35", "35", "82", None, None, "67", None, None]
    ids = [v.inbox_id for v in receipt.verdicts]
    assert receipt.routed() == {
        "67": [ids[0], ids[6]],
        "35": [ids[1], ids[2]],
        "82": [ids[3]],
        None: [ids[4], ids[5], ids[7]],
    }
    with harness.sessions() as session:
        stored = dict(session.execute(select(InboxEvent.position, InboxEvent.departement)).all())
    assert [stored[v.position] for v in receipt.verdicts] == [v.departement for v in receipt.verdicts]


def test_a_drain_routed_to_one_departement_takes_only_its_rows(harness: Harness) -> None:
    strasbourg, rennes = Story("67"), Story("35")
    lines = [("si:1", json.dumps(strasbourg.orientation())), ("si:2", json.dumps(rennes.orientation())),
             ("si:3", json.dumps(Story("67").binome()))]  # fmt: skip
    receipt = receive(harness.uow(), harness.ctx, lines, "si")

    first = drain_waiting(harness.uow(), harness.ctx, 100, defer=False, departement="35")
    assert (first.taken, first.ingest.applied) == (1, 1)
    assert harness.case(rennes.ref).state == "reperage"
    with harness.sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(Case).where(Case.reference == strasbourg.ref))
            == 0
        )
    unknown = drain_waiting(harness.uow(), harness.ctx, 100, defer=False, departement=None)
    assert (unknown.taken, unknown.ingest.rejected) == (1, 1)  # the case nobody oriented
    rest = drain_waiting(harness.uow(), harness.ctx, 100, defer=False)
    assert (rest.taken, rest.ingest.applied) == (1, 1)
    assert receipt.routed() == {
        "67": [receipt.pending[0]],
        "35": [receipt.pending[1]],
        None: [receipt.pending[2]],
    }


def test_rows_a_failed_drain_could_not_settle_are_given_back_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away mid-batch: the rows' claim is released, so the task's retry takes
    them at once instead of after the lease; the taking stays counted."""
    from workflow.application import inbox

    story = Story()
    receive(harness.uow(), harness.ctx, [("si:1", json.dumps(story.orientation()))], "si")

    def gone(*_: Any, **__: Any) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(inbox, "ingest_items", gone)
    with pytest.raises(ConnectionError):
        drain_waiting(harness.uow(), harness.ctx, 10, defer=True)
    monkeypatch.undo()
    with harness.sessions() as session:
        assert session.execute(select(InboxEvent.claimed_at, InboxEvent.attempts)).one() == (None, 1)
    assert drain_waiting(harness.uow(), harness.ctx, 10, defer=True).ingest.applied == 1


def test_the_logs_say_one_line_per_batch_and_nothing_of_the_state_machine_library(
    harness: Harness, task_runtime: None, caplog: pytest.LogCaptureFixture
) -> None:
    """At INFO, a worker logs each batch it applied on one line; `transitions` logs every
    callback at INFO, which is kept quiet (its warnings still show)."""
    from tasks.events import apply_batch

    caplog.set_level(logging.INFO)
    stories = [Story() for _ in range(3)]
    events = [e for s in stories for e in s.until_contract()]
    result = apply_batch.delay(events, "logs-si").get()
    assert result == {"accepted": 12}  # applied at once, in this process (no broker)
    assert [
        r for r in caplog.records if r.name.startswith("transitions") and r.levelno < logging.WARNING
    ] == []
    batches = [r.getMessage() for r in caplog.records if r.name == "tasks.events"]
    assert batches == ["lot de 12 : 12 appliqué(s), 0 doublon(s), 0 rejeté(s), 0 différé(s), 0 mis de côté"]


def test_rows_parked_in_either_wording_are_counted_as_parked(harness: Harness) -> None:
    """`status` and the metrics count the parked rows by their reason's beginning: French now,
    English for the rows parked before the reasons were written in French."""
    items = [("si", json.dumps(Story().orientation())) for _ in range(3)]
    ids = receive(harness.uow(), harness.ctx, items, "si").pending
    reasons = ["mis de côté après 5 prises : …", "parked after 5 attempts: …", "dossier inconnu AG-1"]
    with harness.sessions() as s, s.begin():
        for row_id, reason in zip(ids, reasons, strict=True):
            parked = update(InboxEvent).where(InboxEvent.id == row_id)
            s.execute(parked.values(status="rejected", reason=reason))
    with harness.sessions() as s:
        assert backlog(s, harness.ctx.clock.now()).parked == 2
