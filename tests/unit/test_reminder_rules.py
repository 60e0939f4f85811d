"""The reminder rules on in-memory cases: due dates per convention, the due-day check,
recipients, and the wording of the emails (never a personal detail)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from models import Case
from tests.words import bare_codes, visible_text
from workflow.adapters.convention_files import load_book
from workflow.adapters.email_rendering import ReminderLine, render
from workflow.domain.dates import period_end
from workflow.domain.reminder_rules import (
    Facts,
    Planned,
    due_by,
    missed_kind,
    moved_on,
    next_due,
    planned,
    recipients,
)
from workflow.domain.vocabulary import BARRIER_CODES, ReminderKind

BOOK = load_book()
ORIENTED = date(2026, 3, 2)
SIGNED = date(2026, 3, 20)
NO_FACTS = Facts(appointment_planned=False, held_since_contract=frozenset())
K = ReminderKind


def make_case(**overrides: Any) -> Case:
    values: dict[str, Any] = {
        "reference": "AG-T-1",
        "state": "reperage",
        "orientation_date": ORIENTED,
        "conseiller_id": "C67",
        "referent_social_id": "R67",
        "orienteur_id": "O67",
        "renewal_count": 0,
    }
    values.update(overrides)
    return Case(**values)


def under_contract(code: str, **overrides: Any) -> tuple[Case, Any]:
    terms = BOOK.in_force(code, SIGNED).terms
    end = period_end(SIGNED, terms.first_contract_months)
    return make_case(state="contrat", contract_start=SIGNED, contract_end=end, **overrides), terms


@pytest.mark.parametrize(
    ("code", "convocation", "entry"),
    [("35", 15, 21), ("67", 15, 21), ("82", 15, 21)],
)
def test_before_the_contract_the_convocation_and_entry_deadlines_are_planned(
    code: str, convocation: int, entry: int
) -> None:
    terms = BOOK.in_force(code, ORIENTED).terms
    assert (terms.convocation_days, terms.entry_target_days) == (convocation, entry)
    assert planned(make_case(), terms) == {
        Planned(K.CONVOCATION, ORIENTED + timedelta(convocation)),
        Planned(K.ENTREE, ORIENTED + timedelta(entry)),
    }


@pytest.mark.parametrize("code", ["35", "67", "82"])
def test_under_contract_the_first_appointments_expiry_and_expired_reminders_are_planned(code: str) -> None:
    case, terms = under_contract(code)
    assert case.contract_end is not None
    end = case.contract_end
    expected = {Planned(K.RDV_NON_TENU, SIGNED + timedelta(terms.first_appointment_days))}
    expected |= {Planned(K.ECHEANCE, end - timedelta(d)) for d in terms.expiry_reminder_days}
    expected.add(Planned(K.ECHU, end + timedelta(1)))
    assert planned(case, terms) == expected
    assert set(terms.expiry_reminder_days) == {30, 7}  # the default, no convention changes it


def test_the_first_contract_length_of_each_convention_moves_the_expiry_reminders() -> None:
    ends = {code: under_contract(code)[0].contract_end for code in ("35", "67")}
    assert ends == {"35": date(2026, 12, 19), "67": date(2026, 9, 19)}  # 9 months (35), 6 months (67)


def test_a_closed_case_plans_nothing() -> None:
    case, terms = under_contract("67", exit_date=SIGNED)
    case.state = "sortie"
    assert planned(case, terms) == frozenset()


def test_a_convocation_is_not_needed_once_an_appointment_is_planned() -> None:
    case = make_case()
    terms = BOOK.in_force("67", ORIENTED).terms
    due = ORIENTED + timedelta(terms.convocation_days)
    assert moved_on(K.CONVOCATION, case, NO_FACTS, due) is None
    facts = Facts(appointment_planned=True, held_since_contract=frozenset())
    assert moved_on(K.CONVOCATION, case, facts, due) == "un rendez-vous a été planifié"


def test_the_first_appointments_reminder_goes_only_while_one_of_them_is_not_held() -> None:
    case, terms = under_contract("67")
    due = SIGNED + timedelta(terms.first_appointment_days)
    one = Facts(True, frozenset({"emploi"}))
    both = Facts(True, frozenset({"emploi", "social"}))
    assert moved_on(K.RDV_NON_TENU, case, one, due) is None
    assert moved_on(K.RDV_NON_TENU, case, both, due) is not None


def test_a_renewed_case_no_longer_calls_for_the_old_expiry_reminders() -> None:
    case, terms = under_contract("67")
    assert case.contract_end is not None
    old_end = case.contract_end
    case.next_reminder_on = old_end - timedelta(30)  # the first expiry reminder, not yet seen
    case.contract_end += timedelta(days=180)  # renewed
    case.state = "renouvellement"
    due, upcoming = due_by(case, terms, old_end + timedelta(1))
    assert due == []  # the first appointments' day came before: a scan looked at it then
    assert upcoming == case.contract_end - timedelta(max(terms.expiry_reminder_days))


def test_the_scan_looks_at_every_day_from_the_case_s_next_one_to_its_own() -> None:
    case, terms = under_contract("67")
    assert case.contract_end is not None and case.contract_start is not None
    first = case.contract_start + timedelta(terms.first_appointment_days)
    case.next_reminder_on = first  # an event applied late: its day passed, no scan saw it
    due, upcoming = due_by(case, terms, case.contract_end - timedelta(7))
    assert sorted((p.due, p.kind) for p in due) == [
        (first, K.RDV_NON_TENU),
        (case.contract_end - timedelta(30), K.ECHEANCE),
        (case.contract_end - timedelta(7), K.ECHEANCE),
    ]
    assert upcoming == case.contract_end + timedelta(1)


def test_an_expiry_reminder_found_after_the_end_leaves_it_to_the_expired_one() -> None:
    case, _ = under_contract("67")
    assert case.contract_end is not None
    assert moved_on(K.ECHEANCE, case, NO_FACTS, case.contract_end) is None
    later = case.contract_end + timedelta(1)
    assert moved_on(K.ECHEANCE, case, NO_FACTS, later) is not None
    assert moved_on(K.ECHU, case, NO_FACTS, later) is None


D = date(2026, 6, 1)
A, B, C = Planned(K.ECHEANCE, D), Planned(K.ECHEANCE, D + timedelta(20)), Planned(K.ECHU, D + timedelta(40))


@pytest.mark.parametrize(
    ("before", "after", "previous", "expected"),
    [
        ({}, {A, B}, None, A.due),  # a new case: its first reminder
        ({A, B}, {A, B, C}, A.due, A.due),  # nothing looked at yet: the earliest still
        ({A, B}, {A, B, C}, B.due, B.due),  # A was looked at by a scan: not again
        ({A, B}, {A, C}, None, C.due),  # all looked at; only what is new is to come
        ({A, B}, {A, B}, None, None),  # nothing new, nothing left
        ({A}, {B}, A.due, B.due),  # a new plan replaces an old one nobody looked at
        ({A, B}, set(), A.due, None),  # the case left: nothing to come
        ({B}, {A, B}, None, A.due),  # a day already past, new to the plan: the next scan writes it
    ],
)
def test_the_next_reminder_day_skips_only_what_a_scan_has_looked_at(
    before: set[Planned], after: set[Planned], previous: date | None, expected: date | None
) -> None:
    assert next_due(frozenset(before), frozenset(after), previous) == expected


def test_only_social_and_emploi_appointments_raise_a_missed_first_appointment() -> None:
    assert missed_kind("social") == K.RDV_SOCIAL_MANQUE
    assert missed_kind("emploi") == K.RDV_EMPLOI_MANQUE
    assert missed_kind("diagnostic") is None
    assert missed_kind("tripartite") is None


def test_a_missed_first_appointment_goes_to_the_professional_the_orienteur_and_a_brsa_s_ag_referent() -> None:
    case = make_case()
    ag = ["AG67N"]
    assert recipients(K.RDV_EMPLOI_MANQUE, case, person_status="BRSA", referents_ag=ag) == [
        "C67",
        "O67",
        "AG67N",
    ]
    assert recipients(K.RDV_SOCIAL_MANQUE, case, person_status="BRSA", referents_ag=ag) == [
        "R67",
        "O67",
        "AG67N",
    ]
    assert recipients(K.RDV_SOCIAL_MANQUE, case, person_status="ARE", referents_ag=ag) == ["R67", "O67"]


def test_each_kind_goes_to_the_people_of_the_issue_table() -> None:
    case = make_case()
    assert recipients(K.CONVOCATION, case) == ["C67"]
    assert recipients(K.CONVOCATION, make_case(conseiller_id=None)) == ["O67"]
    assert recipients(K.ENTREE, case) == ["C67", "R67", "O67"]
    for kind in (K.RDV_NON_TENU, K.ECHEANCE, K.ECHU):
        assert recipients(kind, case) == ["C67", "R67"]
    assert recipients(K.ENTREE, make_case(orienteur_id="C67")) == ["C67", "R67"]  # each once


def _item(kind: ReminderKind, renewal_possible: bool = True) -> ReminderLine:
    return ReminderLine(
        kind, "AG-67-00042", date(2026, 9, 19), ORIENTED, SIGNED, date(2026, 9, 19), renewal_possible, 31
    )


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_kind_has_french_wording_naming_the_case_and_nothing_personal(kind: ReminderKind) -> None:
    rendered = render("reminder:1", [_item(kind)], date(2026, 9, 1))
    assert "AG-67-00042" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "AG-67-00042" in part
        assert "Référence du message : rappel n° 1" in part and "reminder:" not in part
        assert "Bonjour" in part
        words = part.lower()
        for forbidden in (
            *BARRIER_CODES,
            "santé",
            "sante",
            "handicap",
            "logement",
            "rsa",
            "addiction",
            "dette",
        ):
            assert forbidden not in words, f"{forbidden!r} in the {kind} email"


def test_the_expiry_email_says_whether_a_renewal_is_still_possible() -> None:
    can = render("k", [_item(K.ECHEANCE, True)], SIGNED).text
    cannot = render("k", [_item(K.ECHEANCE, False)], SIGNED).text
    assert "renouveler ou préparer la sortie" in can
    assert "durée maximale est atteinte : préparer la sortie" in cannot


def test_a_digest_lists_its_reminders_under_one_subject() -> None:
    rendered = render("digest", [_item(K.ECHEANCE), _item(K.ECHU)], date(2026, 9, 20))
    assert rendered.subject == "[Accompagnement global] 2 rappels du 20/09/2026"
    assert rendered.text.count("— dossier AG-67-00042 ==") == 2


def test_the_email_links_to_the_console_when_its_address_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCOMPAGNEMENT_CONSOLE_URL", "https://ag.example/console/")
    rendered = render("k", [_item(K.ECHU)], SIGNED)
    # The console's page of the case (/dossiers/…), not a command line.
    assert 'href="https://ag.example/console/dossiers/AG-67-00042"' in rendered.html
    assert "Ouvrir le dossier : https://ag.example/console/dossiers/AG-67-00042" in rendered.text


def test_without_the_console_address_the_email_says_who_to_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOMPAGNEMENT_CONSOLE_URL", raising=False)
    rendered = render("k", [_item(K.ECHU)], SIGNED)
    for part in (rendered.text, rendered.html):
        assert "demandez-la à votre superviseur" in part
        assert (
            "accompagnement case show" not in part
            and "href" not in part.split("<body")[-1].split("Ouvrir")[1]
        )


def test_no_email_shows_a_code_where_a_word_exists() -> None:
    for kind in K:
        rendered = render("k", [_item(kind, True), _item(kind, False)], SIGNED)
        for part in (rendered.subject, rendered.text, visible_text(rendered.html)):
            assert not bare_codes(part), (kind, bare_codes(part))


def test_an_email_s_reference_is_written_for_people() -> None:
    from workflow.adapters.email_rendering import reference

    assert reference("reminder:1013") == "rappel n° 1013"
    assert reference("revue:12") == "revue n° 12"
    assert reference("digest:2026-03-02:C67:41") == "récapitulatif du 02/03/2026 (C67)"
