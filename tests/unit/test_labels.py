"""Every code of the domain's closed lists has its French word, and the words read well."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.words import CODES, bare_codes
from workflow.domain import labels
from workflow.domain.clock import PARIS
from workflow.domain.lifecycle import ORIENTER, TRIGGERS, State
from workflow.domain.vocabulary import (
    AppointmentKind,
    AppointmentOutcome,
    DiagnosticKind,
    ExitReason,
    Opinion,
    Origin,
    PersonStatus,
    ProfessionalBarrier,
    ReminderKind,
    RenewalDecidedBy,
    Role,
    SocialBarrier,
)


@pytest.mark.parametrize(
    ("codes", "table"),
    [
        (list(State), labels.STATES),
        ([ORIENTER, *TRIGGERS], labels.TRIGGERS),
        (list(ExitReason), labels.EXIT_REASONS),
        (list(Role), labels.ROLES),
        (list(Origin), labels.ORIGINS),
        (list(PersonStatus), labels.PERSON_STATUSES),
        ([*SocialBarrier, *ProfessionalBarrier], labels.BARRIERS),
        (list(DiagnosticKind), labels.DIAGNOSTIC_KINDS),
        (list(Opinion), labels.OPINIONS),
        (list(RenewalDecidedBy), labels.RENEWAL_DECIDED_BY),
        (list(AppointmentKind), labels.APPOINTMENT_KINDS),
        (list(AppointmentOutcome), labels.APPOINTMENT_OUTCOMES),
        (list(ReminderKind), labels.REMINDER_KINDS),
    ],
)
def test_every_code_of_a_closed_list_has_its_word(codes: list[str], table: dict[str, str]) -> None:
    assert sorted(map(str, codes)) == sorted(table)
    for code in codes:
        word = table[code]
        # A word differs from its code, but for the acronyms people use as they are (BRSA, ARE…).
        assert word and (word != code or code.isupper()) and not bare_codes(word), (code, word)


def test_one_way_to_write_a_day_an_instant_a_month_and_a_yes() -> None:
    assert labels.day(date(2026, 12, 25)) == labels.day("2026-12-25") == "25/12/2026"
    # UTC in the database, Paris for people: 15:15 UTC is 16:15 in winter, 17:15 in summer.
    assert labels.instant(datetime.fromisoformat("2026-12-25T15:15:00+00:00")) == "25/12/2026 16:15"
    assert labels.instant("2026-07-14T15:15:00+00:00") == "14/07/2026 17:15"
    assert labels.instant(datetime(2026, 7, 14, 17, 15, tzinfo=PARIS)) == "14/07/2026 17:15"
    assert labels.month("2026-08") == "août 2026"
    assert (labels.yes_no(True), labels.yes_no(False), labels.yes_no(None)) == ("oui", "non", "—")
    assert labels.state_change(None, "reperage") == "∅ → Repérage"
    assert labels.cell("motif", "sans_entree_jamais_venu") == "Sans entrée : jamais venu"
    assert labels.cell("delai_moyen_entree_jours", 11.5) == "11,5"


def test_the_check_finds_what_it_looks_for() -> None:
    """The page and tableau checks use it: it must see a code, a boolean and an ISO date."""
    assert "reperage" in CODES and "sans_entree_jamais_venu" in CODES and "emploi" not in CODES
    text = "État reperage, motif sans_entree_jamais_venu, possible True, le 2026-04-01 ; Emploi."
    assert bare_codes(text) == ["reperage", "sans_entree_jamais_venu", "True", "2026-04-01"]
    assert bare_codes("Repérage, Sans entrée : jamais venu, oui, le 01/04/2026, emploi") == []


@pytest.mark.parametrize(
    ("typed", "day"),
    [("31/03/2026", date(2026, 3, 31)), ("2026-03-31", date(2026, 3, 31)), (" 1/2/2027 ", date(2027, 2, 1))],
)
def test_a_day_is_read_as_people_and_scripts_write_it(typed: str, day: date) -> None:
    assert labels.parse_day(typed) == day


@pytest.mark.parametrize(
    "typed", ["31/3/26", "2026-02-30", "hier", "9999-12-31", "01/01/1899", "٣١/٠٣/٢٠٢٦", ""]
)
def test_a_day_that_is_not_one_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        labels.parse_day(typed)


@given(st.text(max_size=12))
def test_any_text_is_a_day_between_1900_and_2199_or_refused(typed: str) -> None:
    """Whatever a person types in a day field: a day whose next and previous days exist, or a
    ValueError (the command and the console turn it into a message), never another error."""
    try:
        day = labels.parse_day(typed)
    except ValueError:
        return
    assert labels.FIRST_DAY <= day <= labels.LAST_DAY


@pytest.mark.parametrize(
    ("load", "verdict"),
    [(69, "sous la cible"), (70, "dans la cible"), (100, "dans la cible"), (100.4, "au-dessus de la cible")],
)
def test_a_portfolio_of_70_to_100_is_within_its_target_bounds_included(load: float, verdict: str) -> None:
    assert labels.portfolio_verdict(load, 70, 100) == verdict


def test_a_figure_has_one_decimal_and_a_comma() -> None:
    assert [labels.decimal(v) for v in (72.25, 3, 0.04)] == ["72,2", "3,0", "0,0"]
