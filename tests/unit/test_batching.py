"""Cutting a file into batches: a case's events stay together and in order."""

from __future__ import annotations

import json

from tests.factories import Story
from workflow.application.batching import plan_batches


def test_events_of_one_case_and_its_person_stay_together_in_file_order() -> None:
    a, b, c = Story(), Story(), Story()
    events = [a.orientation(), b.orientation(), a.binome(), c.orientation(), b.binome(), a.diagnostic()]
    lines = [json.dumps(e) for e in events] + [json.dumps(c.registration_ended())]
    batches = plan_batches(lines, batch_size=4)
    assert [[json.loads(lines[p])["event_id"] for p in batch] for batch in batches] == [
        [f"{a.ref}-1", f"{a.ref}-2", f"{a.ref}-3"],
        [f"{b.ref}-1", f"{b.ref}-2", f"{c.ref}-1", f"{c.ref}-2"],
    ]
    assert batches[0] == [0, 2, 5]


def test_a_case_larger_than_a_batch_is_not_split() -> None:
    story = Story()
    lines = [json.dumps(e) for e in story.until_contract()]
    assert [len(b) for b in plan_batches(lines, batch_size=2)] == [4]


def test_lines_that_are_not_json_objects_go_alone_for_the_inbox_to_reject() -> None:
    lines = ["{oops", "[1]", "[" * 5000, json.dumps(Story().orientation())]
    assert plan_batches(lines, batch_size=1) == [[0], [1], [2], [3]]
