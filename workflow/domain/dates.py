"""Calendar arithmetic for contracts: real calendar months, not 30-day blocks."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta


def add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, clipped to the month's last day (31 Jan + 1 = 28/29
    Feb), as `dateutil`'s relativedelta does it (a test holds it to that), in plain arithmetic:
    each renewal and exit reads it several times, and relativedelta cost 7 % of the batch path."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(start.day, monthrange(year, month + 1)[1]))


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
