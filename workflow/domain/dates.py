"""Calendar arithmetic for contracts: real calendar months, not 30-day blocks."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, clipped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, months: int) -> date:
    """Last day covered by a period of `months` calendar months starting on `start`.

    A 6-month contract signed on 15 January covers up to 14 July inclusive. Ends are always
    computed from the contract start (not chained from the previous end), so a renewal of a
    contract signed on 31 January does not drift with short months.
    """
    return add_months(start, months) - timedelta(days=1)
