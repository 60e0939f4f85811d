"""Calendar arithmetic for contracts: real calendar months, not 30-day blocks."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta


def add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, clipped to the month's last day (31 Jan + 1 = 28/29
    Feb): `dateutil`'s relativedelta, which does the calendar's arithmetic."""
    moved: date = start + relativedelta(months=months)
    return moved


def period_end(start: date, months: int) -> date:
    """Last day covered by a period of `months` calendar months starting on `start`.

    A 6-month contract signed on 15 January covers up to 14 July inclusive. Ends are always
    computed from the contract start (not chained from the previous end), so a renewal of a
    contract signed on 31 January does not drift with short months.
    """
    return add_months(start, months) - timedelta(days=1)


def months_since(start: date, day: date) -> int:
    """Whole calendar months from `start` to `day` (0 in the first month of a contract)."""
    months = (day.year - start.year) * 12 + day.month - start.month
    return months - 1 if add_months(start, months) > day else months
