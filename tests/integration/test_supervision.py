"""Supervision through the real database: refusals kept on record, read scopes, the log's
append-only triggers (PostgreSQL), the daily seals against whole-chain rewrites, delays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from models import AccessDenial, Professional, Revue, RevueDecision, TransitionLog
from tests.conftest import Harness
from tests.factories import Story
from tests.integration.test_audit import tamper
from workflow.application import access
from workflow.application.audit import chain, seals
from workflow.application.audit import export as log_export
from workflow.domain import labels
from workflow.domain.clock import ManualClock
from workflow.domain.errors import ConfigurationError, Forbidden

KEY = b"operator-sealing-key-for-tests"
DAY = date(2026, 3, 2)  # the harness clock's day: every row below is recorded on it


@pytest.fixture
def sealed(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Story, Story]]:
    a, b = Story(), Story()
    harness.apply(*a.until_contract(), *b.until_contract())
    assert isinstance(harness.ctx.clock, ManualClock)
    harness.ctx.clock.set(datetime(2026, 3, 3, 4, 0, tzinfo=UTC))  # the day is over: it may be sealed
    made = seals.seal(harness.uow(), harness.ctx, KEY, through=DAY)
    assert [(s.day, s.chains, s.rows) for s in made] == [(DAY, 2, 8)]
    yield a, b


def check(
    h: Harness, key: bytes = KEY, today: date = DAY + timedelta(days=1), expect: str | None = None
) -> tuple[chain.VerifyReport, list[str]]:
    with h.sessions() as s:
        _, problems = seals.verify(s, key, today, expect)
        return chain.verify_chains(s), [str(p) for p in problems]


def test_the_seals_are_a_chain_and_a_deleted_one_is_named(
    harness: Harness, sealed: tuple[Story, Story]
) -> None:
    assert isinstance(harness.ctx.clock, ManualClock)
    harness.ctx.clock.set(datetime(2026, 3, 5, 4, 0, tzinfo=UTC))
    later = seals.seal(harness.uow(), harness.ctx, KEY, through=DAY + timedelta(days=2))
    assert [(s.day, s.rows, s.prev_hmac is not None) for s in later] == [
        (DAY + timedelta(days=1), 0, True),
        (DAY + timedelta(days=2), 0, True),
    ]  # empty days are sealed too, each linked to the one before
    today = DAY + timedelta(days=3)
    assert check(harness, today=today)[1] == []
    tamper(harness, "DELETE FROM audit_seal WHERE day = :d", {"d": DAY + timedelta(days=1)})
    assert check(harness, today=today)[1] == [
        "seal of 2026-03-04: it does not link to the seal of 2026-03-02: "
        "a seal between them was deleted or replaced",
        "seal of 2026-03-03: no seal for this complete day: deleted, or the nightly seal did not run",
    ]


def test_a_rewritten_chain_with_its_seals_deleted_is_still_caught(
    harness: Harness, sealed: tuple[Story, Story]
) -> None:
    a, _ = sealed
    tamper(harness, "UPDATE transition_log SET actor_id = 'X' WHERE case_reference = :r", {"r": a.ref})
    tamper(harness, "DELETE FROM audit_seal", {})  # the evidence deleted with it
    report, problems = check(harness)
    assert not report.ok  # the chain check names the rewritten row (its hash no longer matches)
    assert problems == [
        "seal of 2026-03-02: no seal for this complete day: deleted, or the nightly seal did not run"
    ]


def test_the_head_kept_elsewhere_catches_the_latest_seals_deleted(
    harness: Harness, sealed: tuple[Story, Story]
) -> None:
    assert isinstance(harness.ctx.clock, ManualClock)
    harness.ctx.clock.set(datetime(2026, 3, 4, 4, 0, tzinfo=UTC))
    [latest] = seals.seal(harness.uow(), harness.ctx, KEY, through=DAY + timedelta(days=1))
    kept = seals.head(latest)
    today = DAY + timedelta(days=2)
    assert check(harness, today=today, expect=kept)[1] == []
    tamper(harness, "DELETE FROM audit_seal WHERE day = :d", {"d": latest.day})
    assert check(harness, today=today, expect=kept)[1] == [
        "seal of 2026-03-03: no seal for this complete day: deleted, or the nightly seal did not run",
        "seal of 2026-03-03: the seal kept elsewhere is gone from the database",
    ]


def test_a_day_is_sealed_once_and_an_intact_log_matches_its_seals(
    harness: Harness, sealed: tuple[Story, Story]
) -> None:
    assert seals.seal(harness.uow(), harness.ctx, KEY, through=DAY) == []
    report, problems = check(harness)
    assert report.ok and problems == []


def test_a_whole_chain_rewritten_passes_the_chain_check_but_not_the_seal(
    harness: Harness, sealed: tuple[Story, Story]
) -> None:
    """Every hash of case a recomputed after changing its actor: the chain is consistent again,
    only the sealed head tells."""
    a, _ = sealed
    prev = chain.GENESIS
    for row in harness.log(a.ref):
        fields = {c.name: getattr(row, c.name) for c in TransitionLog.__table__.columns}
        fields.update(actor_id="C67B", prev_hash=prev)
        prev = chain.row_hash(fields)
        tamper(
            harness,
            "UPDATE transition_log SET actor_id = 'C67B', prev_hash = :p, hash = :h WHERE id = :id",
            {"p": fields["prev_hash"], "h": prev, "id": row.id},
        )
    report, problems = check(harness)
    assert report.ok
    assert problems == [
        f"seal of 2026-03-02: case {a.ref}: seq 4 lost its sealed hash (the chain was rewritten)"
    ]


def test_a_whole_chain_deleted_is_named(harness: Harness, sealed: tuple[Story, Story]) -> None:
    _, b = sealed
    tamper(harness, "DELETE FROM transition_log WHERE case_reference = :r", {"r": b.ref})
    report, problems = check(harness)
    assert report.breaks == []  # no chain is broken: b's is simply gone, which verify names
    assert not report.ok and (report.unlogged, report.unlogged_examples) == (1, (b.ref,))
    assert problems == [
        f"seal of 2026-03-02: case {b.ref}: its rows of that day are gone (sealed head: seq 4)"
    ]


def test_every_log_row_and_every_seal_deleted_is_named(harness: Harness, sealed: tuple[Story, Story]) -> None:
    a, b = sealed
    tamper(harness, "DELETE FROM transition_log", {})
    tamper(harness, "DELETE FROM audit_seal", {})
    report, problems = check(harness)
    assert (report.rows, report.breaks, problems) == (0, [], [])  # nothing left to check against
    assert not report.ok and report.unlogged == 2 and set(report.unlogged_examples) == {a.ref, b.ref}


def test_only_a_complete_day_is_sealed(harness: Harness, sealed: tuple[Story, Story]) -> None:
    """Today (UTC) still grows: its seal would be a false alarm at the next verify."""
    today = harness.ctx.clock.now().astimezone(UTC).date()
    with pytest.raises(ConfigurationError, match="seul un jour terminé \\(UTC\\) se scelle"):
        seals.seal(harness.uow(), harness.ctx, KEY, through=today)
    assert seals.seal(harness.uow(), harness.ctx, KEY, through=today - timedelta(days=1)) == []


def _revue_decision(h: Harness, story: Story, at: datetime) -> None:
    with h.sessions() as s, s.begin():
        revue = Revue(agence="Strasbourg-Nord", month="2026-03", departement="67", held_on=DAY,
                      since=DAY, next_on=DAY, secretariat="conseiller", content={}, created_at=at,
                      created_by="test")  # fmt: skip
        s.add(revue)
        s.flush()
        s.add(RevueDecision(revue_id=revue.id, case_reference=story.ref, rubrique="entrees", decision="acter",
                            actor_id="C67", log_hash="0" * 64, applied_at=at))  # fmt: skip


def test_a_revue_decision_or_an_access_denial_changed_after_its_day_was_sealed_is_named(
    harness: Harness,
) -> None:
    story = Story()
    harness.apply(*story.until_contract())
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    _revue_decision(harness, story, at)
    with harness.sessions() as s, s.begin():
        access.record(s, Forbidden("O67", "orienteur", "read", "pas son dossier"), at, story.ref)
    assert isinstance(harness.ctx.clock, ManualClock)
    harness.ctx.clock.set(datetime(2026, 3, 3, 4, 0, tzinfo=UTC))
    seals.seal(harness.uow(), harness.ctx, KEY, through=DAY)
    assert check(harness)[1] == []
    tamper(harness, "UPDATE revue_decision SET decision = 'sortie:emploi'", {})
    tamper(harness, "DELETE FROM access_denial", {})
    assert check(harness)[1] == [
        "seal of 2026-03-02: décision(s) de revue de ce jour modifiée(s) depuis le scellement "
        "(1 maintenant, 1 scellée(s))",
        "seal of 2026-03-02: refus d'accès de ce jour supprimée(s) ou ajoutée(s) depuis le scellement "
        "(0 maintenant, 1 scellée(s))",
    ]


def test_a_forged_seal_or_another_key_is_refused(harness: Harness, sealed: tuple[Story, Story]) -> None:
    _, problems = check(harness, b"another-key-of-sixteen-bytes")
    assert problems == [f"seal of 2026-03-02: signed with key {seals.key_id(KEY)}, not the key given"]
    tamper(harness, "UPDATE audit_seal SET rows = 7", {})
    _, problems = check(harness)
    assert problems == ["seal of 2026-03-02: its signature does not match: the seal itself was altered"]


def test_a_short_or_missing_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(seals.KEY_ENV, "short")
    with pytest.raises(ConfigurationError, match="16 caractères au moins"):
        seals.operator_key()


CHANGES = [
    "UPDATE transition_log SET actor_id = 'X'",
    "DELETE FROM transition_log",
    "TRUNCATE transition_log CASCADE",
    "UPDATE access_denial SET reason = 'nothing'",
]


@pytest.mark.postgres(reason="the append-only triggers are PostgreSQL's (SQLite: the chains and seals only)")
@pytest.mark.parametrize("statement", CHANGES)
def test_postgresql_refuses_to_change_the_audit_tables(harness: Harness, statement: str) -> None:
    story = Story()
    harness.apply(*story.until_contract()[:-1])
    contract = story.contract()
    contract["actor"] = {"id": "O67", "role": "orienteur"}
    assert harness.ingest_events([contract]).rejected == 1  # an access_denial row too
    with harness.sessions() as s, pytest.raises(DBAPIError, match="the audit tables are append-only"):
        s.execute(text(statement))
    with harness.sessions() as s:
        assert len(s.scalars(select(TransitionLog)).all()) == 3


def test_a_social_worker_cannot_sign_the_contract_and_the_refusal_is_kept(harness: Harness) -> None:
    story = Story()
    harness.apply(*story.until_contract()[:-1])
    contract = story.contract()
    contract["actor"] = {"id": "R67", "role": "referent_social"}
    report = harness.ingest_events([contract])
    assert report.rejected == 1
    assert report.rejections[0].reason == (
        "interdit : R67 (Référent social) ne peut pas faire « Signature du contrat » : "
        "signer_contrat revient à : conseiller"
    )
    assert harness.case(story.ref).state == "diagnostic"
    with harness.sessions() as s:
        denial = s.scalar(select(AccessDenial))
    assert denial is not None
    assert (denial.actor_id, denial.action, denial.case_reference) == ("R67", "signer_contrat", story.ref)


@pytest.mark.parametrize(
    ("actor", "role"), [("C67B", "conseiller"), ("R67B", "referent_social"), ("C35", "conseiller")]
)
def test_only_the_case_s_binome_decides_outside_the_revue(harness: Harness, actor: str, role: str) -> None:
    """A role is not enough: a conseiller or a social worker of another binôme (of the same
    agency or another département) cannot close a case, and the refusal is kept."""
    story = Story()
    harness.apply(*story.until_contract())
    exit_ = story.exit("emploi")
    exit_["actor"] = {"id": actor, "role": role}
    report = harness.ingest_events([exit_])
    assert report.rejected == 1
    assert report.rejections[0].reason == (
        f"interdit : {actor} ({labels.ROLES[role]}) ne peut pas faire « Sortie » : "
        f"{actor} n'est pas du binôme du dossier {story.ref} "
        "(C67 et R67) : seul le binôme décide, ou la revue de portefeuille de l'agence pour une entrée, "
        "un renouvellement ou une sortie (convention 004 art. 5.2)"
    )
    assert harness.case(story.ref).state == "contrat"
    with harness.sessions() as s:
        denial = s.scalar(select(AccessDenial))
    assert denial is not None and (denial.actor_id, denial.action) == (actor, "sortir")
    by_binome = story.exit("emploi")
    by_binome["actor"] = {"id": "R67", "role": "referent_social"}
    assert harness.ingest_events([by_binome]).applied == 1


def test_the_agency_s_conseiller_acts_a_renewal_by_the_commission_on_any_of_its_cases(
    harness: Harness,
) -> None:
    """Seed 004 art. 5.2: the revue (and art. 2 g: the commission) acts on the agency's cases."""
    story = Story()
    harness.apply(*story.until_contract())
    renewal = story.renewal(days=200, decided_by="commission")
    renewal["actor"] = {"id": "C67B", "role": "conseiller"}  # Strasbourg-Nord, not this binôme
    assert harness.ingest_events([renewal]).applied == 1
    assert harness.case(story.ref).state == "renouvellement"


def test_each_reader_sees_their_scope_of_the_log(harness: Harness) -> None:
    mine, theirs, elsewhere = Story(), Story(), Story(departement="35")
    harness.apply(*mine.until_contract(), *theirs.until_contract(), *elsewhere.until_contract())
    with harness.uow() as uow:
        another_binome = "conseiller_id = 'C67B', referent_social_id = 'R67B', orienteur_id = 'O67'"
        uow.session.execute(
            text(f"UPDATE case_file SET {another_binome} WHERE reference = :r"), {"r": theirs.ref}
        )
        uow.commit()

    def cases_seen(pid: str | None) -> set[str]:
        with harness.sessions() as s:
            reader = s.get(Professional, pid) if pid else None
            return {
                r["case_reference"] for r in log_export.export_rows(s, log_export.LogFilter(reader=reader))
            }

    assert cases_seen("C67") == {mine.ref}
    assert cases_seen("R67B") == {theirs.ref}
    assert cases_seen("S67") == {mine.ref, theirs.ref}
    assert cases_seen(None) == {mine.ref, theirs.ref, elsewhere.ref}


def test_the_delay_between_two_states_per_case(harness: Harness) -> None:
    quick, slow, waiting = Story(), Story(), Story()
    harness.apply(*quick.until_contract())
    harness.apply(slow.orientation(), slow.binome(), slow.diagnostic(days=20), slow.contract(days=10))
    harness.apply(waiting.orientation())
    with harness.sessions() as s:
        found = log_export.delays(s, log_export.LogFilter(), "reperage", "contrat")
    by_case: dict[str, Any] = {d.case_reference: d.days for d in found}
    assert by_case == {quick.ref: 11.0, slow.ref: 31.0}
