"""A caseworker's deadlines as an iCalendar feed (RFC 5545), written with the `icalendar`
package: Outlook, Thunderbird or a phone subscribe to its address and show each deadline as an
all-day event beside their appointments.

Like the emails, an event names the deadline and the case reference, never the person's
situation; it links to the case in the console when its address is configured.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from workflow.domain.deadlines import CaseDeadline

PRODUCT = "-//Accompagnement global//Échéances//FR"


def feed(owner: str, deadlines: Sequence[CaseDeadline], now: datetime) -> bytes:
    """The calendar of `owner`'s deadlines; each event keeps its UID from one fetch to the next,
    so a calendar program updates it rather than adding a copy."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Échéances accompagnement global — {owner}")
    calendar.add("x-wr-timezone", "Europe/Paris")
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    base = os.environ.get("ACCOMPAGNEMENT_CONSOLE_URL", "").rstrip("/")
    for item in deadlines:
        event = Event()
        name = item.deadline.name
        event.add("uid", f"{item.case_reference}.{item.deadline.code}@accompagnement-global")
        event.add("summary", f"{name[:1].upper()}{name[1:]} — dossier {item.case_reference}")
        event.add("dtstart", item.deadline.due)
        event.add("dtend", item.deadline.due + timedelta(days=1))
        event.add("dtstamp", now)
        event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: the day stays free
        event.add("categories", ["Accompagnement global"])
        if base:
            event.add("url", f"{base}/dossiers/{item.case_reference}")
            event.add("description", f"Ouvrir le dossier : {base}/dossiers/{item.case_reference}")
        calendar.add_component(event)
    written: bytes = calendar.to_ical()
    return written
