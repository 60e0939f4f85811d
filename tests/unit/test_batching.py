"""Cutting a file into batches: a case's events stay together and in order."""

from __future__ import annotations

import json

from tests.factories import Story
from workflow.batching import plan_batches


def test_events_of_one_case_and_its_person_stay_together_in_file_order() -> None:
    a, b, c = Story(), Story(), Story()
    events = [a.orientation(), b.orientation(), a.binome(), c.orientation(), b.binome(), a.diagnostic()]
    lines = [json.dumps(e) for e in events] + [json.dumps(c.registration_ended())]
    batches, bad = plan_batches(lines, batch_size=4)
    assert not bad
    assert [[e["event_id"] for e in batch.events] for batch in batches] == [
        [f"{a.ref}-1", f"{a.ref}-2", f"{a.ref}-3"],
        [f"{b.ref}-1", f"{b.ref}-2", f"{c.ref}-1", f"{c.ref}-2"],
    ]
    assert batches[0].lines == [1, 3, 6]


def test_a_case_larger_than_a_batch_is_not_split() -> None:
    story = Story()
    lines = [json.dumps(e) for e in story.until_contract()]
    batches, _ = plan_batches(lines, batch_size=2)
    assert [len(b.events) for b in batches] == [4]


def test_lines_that_are_not_json_objects_are_reported_with_their_number() -> None:
    batches, bad = plan_batches(["", "{oops", "[1]", json.dumps(Story().orientation())])
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [
        (2, "malformed JSON"),
        (3, "an event is a JSON object, not list"),
    ]
    assert len(batches) == 1 and batches[0].lines == [4]
