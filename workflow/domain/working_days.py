"""French public holidays and working days, for dates people act on (the monthly revue).

The national holidays (Code du travail, art. L3133-1) plus, in Alsace-Moselle (Bas-Rhin 67,
Haut-Rhin 68, Moselle 57), Good Friday and Saint Stephen's Day (art. L3134-13): the Bas-Rhin
convention (seed 004) lives under that local law. Computed, not fetched: Easter by the
anonymous Gregorian algorithm, the rest from it or fixed.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

ALSACE_MOSELLE = frozenset({"57", "67", "68"})


def easter(year: int) -> date:
    """Easter Sunday (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741  (the algorithm's own name)
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    return date(year, month, (h + l - 7 * m + 33 * month + 19) % 32)


@cache
def public_holidays(year: int, departement: str) -> dict[date, str]:
    sunday = easter(year)
    days = {
        date(year, 1, 1): "Jour de l'an",
        sunday + timedelta(1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        sunday + timedelta(39): "Ascension",
        sunday + timedelta(50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }
    if departement in ALSACE_MOSELLE:
        days[sunday - timedelta(2)] = "Vendredi saint"
        days[date(year, 12, 26)] = "Saint-Étienne"
    return days


def is_working_day(day: date, departement: str) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year, departement)


def first_working_day(year: int, month: int, departement: str) -> date:
    """The first day of the month that is neither a weekend nor a public holiday."""
    return nth_working_day(year, month, 1, departement)


def nth_working_day(year: int, month: int, n: int, departement: str) -> date:
    """The n-th working day of the month (n ≥ 1; a month has at least 18)."""
    day, seen = date(year, month, 1), 0
    while True:
        if is_working_day(day, departement):
            seen += 1
            if seen == n:
                return day
        day += timedelta(1)
