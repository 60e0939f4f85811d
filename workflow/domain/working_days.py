"""French public holidays and working days, for dates people act on (the monthly revue, the
demo's appointments).

The `holidays` package knows the national days (Code du travail, art. L3133-1) and those of each
subdivision: Alsace-Moselle (Bas-Rhin 67, Haut-Rhin 68, Moselle 57) adds Good Friday and Saint
Stephen's Day (art. L3134-13), which the Bas-Rhin convention (seed 004) lives under, and each
overseas département (971-974, 976) its own days, such as the abolition of slavery.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

# The package's subdivision for each département that has days of its own.
SUBDIVISIONS = {
    "57": "57",
    "67": "6AE",
    "68": "6AE",
    **{code: code for code in ("971", "972", "973", "974", "976")},
}


@cache
def public_holidays(year: int, departement: str) -> dict[date, str]:
    """The public holidays of a year in a département, with their French names."""
    days = holidays.country_holidays("FR", subdiv=SUBDIVISIONS.get(departement), years=year, language="fr")
    return dict(sorted(days.items()))


def is_working_day(day: date, departement: str) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year, departement)


def next_working_day(day: date, departement: str) -> date:
    """`day` itself if people work that day, else the next day they do."""
    while not is_working_day(day, departement):
        day += timedelta(1)
    return day


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
