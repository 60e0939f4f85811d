"""Parcels stored together (the HTTP door's group commit): `receive_together` answers and
stores each parcel as `receive` would have, one parcel after the other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select

from models import AccessDenial, InboxEvent, RejectedEvent
from tests.conftest import Harness, empty_tables, make_harness
from tests.factories import Story
from workflow.application.inbox import Parcel, Receipt, receive, receive_together
from workflow.domain.clock import ManualClock
from workflow.domain.errors import Forbidden
from workflow.domain.events import Event


def scenario(h: Harness) -> tuple[list[Parcel], dict[str, str]]:
    """Parcels that meet every case of the door: new events, a line that is not JSON, a second
    copy of an event across parcels (a duplicate) and of its id with other content (rejected),
    an event applied before (a duplicate), an actor the sender may not send (refused), a case
    not known yet, a registration event routed by its person. And the names that make two
    runs' outputs comparable."""
    a, b, done, late = Story(), Story("35"), Story(), Story()
    applied = done.orientation()
    h.apply(applied)
    o_a, o_b = a.orientation(), b.orientation()

    def refuse(event: Event) -> Forbidden | None:
        if getattr(event, "case_ref", None) != b.ref:
            return None
        return Forbidden(event.actor.id, event.actor.role, f"envoyer {event.type}", "pas pour ce système")

    def lines(tag: str, *events: Any) -> list[tuple[str, str]]:
        return [(f"{tag}#{n}", e if isinstance(e, str) else json.dumps(e)) for n, e in enumerate(events)]

    parcels = [
        Parcel(lines("p0", o_a, "pas du JSON", o_b), "http:si"),
        Parcel(lines("p1", o_a, {**a.binome(), "event_id": o_a["event_id"]}), "http:si"),
        Parcel(lines("p2", applied, a.binome(), b.binome(), late.binome()), "http:autre", refuse),
        Parcel(lines("p3", done.registration_ended(), {"type": "binome_assigned"}), "http:si"),
    ]
    names = {story.ref: f"<{name}>" for story, name in ((a, "A"), (b, "B"), (done, "D"), (late, "L"))}
    names |= {story.ft: f"<ft {name}>" for story, name in ((a, "A"), (b, "B"), (done, "D"), (late, "L"))}
    return parcels, names


def outcome(h: Harness, receipts: Sequence[Receipt], names: dict[str, str], first_id: int) -> Any:
    """What the parcels' senders were told, and what the tables keep, with the stories' names
    in place of their references."""

    def named(value: Any) -> Any:
        text = str(value)
        for ref, name in names.items():
            text = text.replace(ref, name)
        return text

    told = [[(v.position, v.status, named(v.reason), v.pending, v.departement) for v in r.verdicts]
            for r in receipts]  # fmt: skip
    with h.sessions() as s:
        rows = s.execute(
            select(InboxEvent.sender, InboxEvent.source, InboxEvent.event_id, InboxEvent.status,
                   InboxEvent.reason, InboxEvent.person_key, InboxEvent.departement)
            .where(InboxEvent.id >= first_id).order_by(InboxEvent.id)
        ).all()  # fmt: skip
        rejections = s.execute(
            select(RejectedEvent.source, RejectedEvent.event_id, RejectedEvent.reason,
                   RejectedEvent.occurrences)
        ).all()  # fmt: skip
        denials = s.scalar(select(func.count()).select_from(AccessDenial))
    # The order that matters is the pending rows' (their persons' lines); a copy refused at the
    # insert is stored after the rest of its parcel when sent alone, in its place when together.
    line = [r.source for r in rows if r.status == "pending"]
    kept = sorted(tuple(map(named, r)) for r in rows)
    return told, line, kept, sorted(tuple(map(named, r)) for r in rejections), denials


def next_inbox_id(h: Harness) -> int:
    with h.sessions() as s:
        return (s.scalar(select(func.max(InboxEvent.id))) or 0) + 1


def test_parcels_received_together_are_answered_and_stored_as_one_after_the_other(
    db: Engine, clock: ManualClock
) -> None:
    harness = make_harness(db, clock)
    parcels, names = scenario(harness)
    first = next_inbox_id(harness)
    one_by_one = [receive(harness.uow(), harness.ctx, p.items, p.sender, refuse=p.refuse) for p in parcels]
    expected = outcome(harness, one_by_one, names, first)

    empty_tables(db)  # the same scenario again, on emptied tables, sent in one group
    other = make_harness(db, clock)
    parcels, names = scenario(other)
    first = next_inbox_id(other)
    together = receive_together(other.uow(), other.ctx, parcels)
    assert outcome(other, together, names, first) == expected
    statuses = [v.status for r in together for v in r.verdicts]
    assert statuses == ["accepted", "rejected", "accepted", "duplicate", "rejected", "duplicate", "accepted",
                        "rejected", "accepted", "accepted", "rejected"], statuses  # fmt: skip
    assert len({r.submission for r in together}) == 1  # one transaction, one submission
