"""Time, injected. Domain code never calls `datetime.now()`: it asks a Clock.

Tests and the demo's simulated year move a `ManualClock`; production uses `SystemClock`.
Instants are UTC; the calendar day that counts for people is the one in Europe/Paris.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


def paris_date(instant: datetime) -> date:
    """The calendar day of an instant for people in France (contracts, deadlines)."""
    return instant.astimezone(PARIS).date()


def today(clock: Clock) -> date:
    return paris_date(clock.now())
