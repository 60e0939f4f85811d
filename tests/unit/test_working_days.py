"""Public holidays and the first working day of a month (the revue's default date)."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.domain.working_days import (
    first_working_day,
    is_working_day,
    next_working_day,
    public_holidays,
)


@pytest.mark.parametrize(
    ("year", "monday"),
    [
        (2024, date(2024, 4, 1)),
        (2025, date(2025, 4, 21)),
        (2026, date(2026, 4, 6)),
        (2027, date(2027, 3, 29)),
    ],
)
def test_easter_monday_moves_with_easter(year: int, monday: date) -> None:
    assert public_holidays(year, "35")[monday] == "Lundi de Pâques"


def test_the_national_holidays_of_2026() -> None:
    days = public_holidays(2026, "35")
    assert len(days) == 11
    assert days[date(2026, 4, 6)] == "Lundi de Pâques"
    assert days[date(2026, 5, 14)] == "Ascension"
    assert days[date(2026, 5, 25)] == "Lundi de Pentecôte"


def test_alsace_moselle_adds_good_friday_and_saint_stephen() -> None:
    assert not is_working_day(date(2026, 4, 3), "67")  # Vendredi saint
    assert is_working_day(date(2026, 4, 3), "35")
    assert len(public_holidays(2026, "67")) == 13


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 1, date(2026, 1, 2)),  # 1 January a holiday, the 2nd a Friday
        (2026, 5, date(2026, 5, 4)),  # 1 May a Friday (holiday), then the weekend
        (2026, 11, date(2026, 11, 2)),  # 1 November a Sunday
        (2026, 4, date(2026, 4, 1)),  # an ordinary Wednesday
        (2024, 4, date(2024, 4, 2)),  # Easter Monday on the 1st
        (2026, 8, date(2026, 8, 3)),  # 1 August a Saturday
    ],
)
def test_first_working_day_skips_weekends_and_holidays(year: int, month: int, expected: date) -> None:
    assert first_working_day(year, month, "67") == expected


@pytest.mark.parametrize(
    ("departement", "day", "name"),
    [
        ("971", date(2026, 5, 27), "Abolition de l'esclavage"),  # Guadeloupe
        ("972", date(2026, 5, 22), "Abolition de l'esclavage"),  # Martinique
        ("973", date(2026, 6, 10), "Abolition de l'esclavage"),  # Guyane
        ("974", date(2026, 12, 21), "Abolition de l'esclavage"),  # La Réunion: 20 Dec a Sunday
        ("976", date(2026, 4, 27), "Abolition de l'esclavage"),  # Mayotte
    ],
)
def test_an_overseas_departement_has_its_own_days(departement: str, day: date, name: str) -> None:
    shown = public_holidays(day.year, departement)
    assert any(d.month == day.month and n == name for d, n in shown.items()), shown
    assert not any(n == name for n in public_holidays(day.year, "35").values())


def test_the_next_working_day_skips_a_weekend_and_a_holiday() -> None:
    assert next_working_day(date(2026, 12, 24), "67") == date(2026, 12, 24)  # a Thursday
    assert next_working_day(date(2026, 12, 25), "67") == date(2026, 12, 28)  # Noël, Saint-Étienne, Sunday
    assert next_working_day(date(2026, 12, 26), "35") == date(2026, 12, 28)  # Saturday, Sunday
