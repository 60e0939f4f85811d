"""Adversarial input for every door, drawn by hypothesis, and the valid stream it is mixed into.

`adversarial_line()` draws one line as bytes: a valid event of a fuzz case (references FZ-…,
never a valid story's) broken in one to three places (a field set to any JSON value, removed, or
given control characters, lone surrogates, NUL, a huge or deeply nested value, a date out of
range), or bytes that are not JSON, not UTF-8, nested a thousand levels deep, or megabytes long.
Some mutations leave the event valid: it may then apply to its fuzz case, which is fine, as long
as the valid stories around it end exactly as they end alone.

`corpus(n)` collects n lines drawn by hypothesis (each example one line: hypothesis varies them
far more than a seeded generator would, and a failure names the line), and `mixed()` interleaves
them with a valid stream, replays included, at fixed positions.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.factories import Story

NASTY = ["\x00", "\udfff", "\ud800", "\udc80", "\x1f", "\x7f", "\u2028", "\ufeff", "é", '"', "\\", "\t", "%"]
CHAR = st.one_of(st.characters(exclude_categories=(), exclude_characters="\r\n"), st.sampled_from(NASTY))
TEXT = st.text(CHAR, max_size=40)
EXTREME_DATES = [
    "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "2026-02-30T10:00:00+01:00",
    "2026-03-01T10:00:00", "1999-12-31T23:00:00Z", "2101-01-01T00:00:00Z", "9999-12-31", "0001-01-01",
    "2026-03-01T25:61:00+01:00", "+002026-03-01", "1e999", "",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), TEXT, st.sampled_from(EXTREME_DATES),
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _templates() -> list[dict[str, Any]]:
    """One event of each type, for a fuzz case of each convention."""
    events = []
    for departement in ("67", "35", "82"):
        story = Story(departement=departement, ref=f"FZ-{departement}-1")
        planned = story.appointment()
        events += [
            *story.until_contract(), story.consent(True), planned, story.outcome(planned["appointment_id"]),
            story.renewal(), story.exit("emploi"), story.registration_ended(), story.radiation(),
        ]  # fmt: skip
    for event in events:
        event["event_id"] = f"fz-{event['event_id']}"
    return events


TEMPLATES = _templates()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        found.append((*prefix, key))
        found.extend(_paths(item, (*prefix, key)))
    return found


def _set(event: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        event = event[key]
    event[path[-1]] = value


def _remove(event: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        event = event[key]
    del event[path[-1]]


@st.composite
def mutated_event(draw: st.DrawFn) -> bytes:
    event = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    event["event_id"] = f"{event['event_id']}-{draw(st.integers(0, 10**6))}"
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["value"] * 4 + ["remove", "text", "text", "extra", "deep", "huge"]))
        if how == "value":
            _set(event, path, draw(JSON_VALUES))
        elif how == "remove":
            _remove(event, path)
        elif how == "text":
            _set(event, path, draw(TEXT))
        elif how == "extra":
            event[draw(TEXT)] = draw(JSON_VALUES)
        elif how == "deep":
            depth = draw(st.integers(20, 3000))
            _set(event, path, json.loads("[" * min(depth, 900) + "]" * min(depth, 900)))
        else:
            _set(event, path, "x" * draw(st.sampled_from([100, 2_000, 40_000])))
    text = json.dumps(event, ensure_ascii=draw(st.booleans()), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def raw_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text", "bytes", "deep", "huge", "json", "truncated"]))
    if kind == "text":
        return str(draw(TEXT)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return bytes(b for b in draw(st.binary(min_size=1, max_size=200)) if b not in b"\r\n")
    if kind == "deep":
        opener = draw(st.sampled_from(["[", '{"a":', '{"event_id":"x","type":["']))
        return (opener * draw(st.integers(50, 5000))).encode()
    if kind == "huge":
        size = draw(st.sampled_from([65, 1_000, 40_000]))
        return json.dumps({"event_id": "y" * size, "type": "radiation"}).encode()
    if kind == "json":
        return json.dumps(draw(JSON_VALUES), allow_nan=True).encode("utf-8", "surrogatepass")
    whole = json.dumps(draw(st.sampled_from(TEMPLATES))).encode()
    return whole[: draw(st.integers(1, len(whole) - 1))]


def adversarial_line() -> st.SearchStrategy[bytes]:
    """One line, without its newline; never blank (a blank line is skipped, not an event)."""
    return st.one_of(mutated_event(), mutated_event(), raw_line()).filter(
        lambda b: b.decode("utf-8", "surrogateescape").strip() != ""
    )


def corpus(size: int) -> list[bytes]:
    """`size` lines drawn by hypothesis, one per example (shrinking is of no use here)."""
    lines: list[bytes] = []

    @given(line=adversarial_line())
    @settings(
        max_examples=size, database=None, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate],
    )  # fmt: skip
    def collect(line: bytes) -> None:
        lines.append(line)

    collect()
    return lines


@dataclass(frozen=True)
class Mixed:
    lines: list[bytes]  # the whole stream, in order
    valid: list[bytes]  # the valid stream alone, in the same order (its replays included)
    stories: list[Story]


def valid_stream(cases: int) -> tuple[list[bytes], list[Story]]:
    """Cases of the three conventions taken to their contract, some renewed or exited, a tenth of
    their events sent twice (a replay is a duplicate)."""
    rng = random.Random(7)
    stories, events = [], []
    for n in range(cases):
        story = Story(departement=("67", "35", "82")[n % 3])
        stories.append(story)
        events += story.until_contract()
        planned = story.appointment()
        events += [planned, story.outcome(planned["appointment_id"])]
        if n % 4 == 0:
            events.append(story.exit("emploi", days=30))
    lines = [json.dumps(e, ensure_ascii=False).encode() for e in events]
    replays = [line for line in lines if rng.random() < 0.1]
    return lines + replays, stories


def mixed(bad: list[bytes], cases: int) -> Mixed:
    valid, stories = valid_stream(cases)
    rng = random.Random(11)
    slots = sorted(rng.randrange(len(valid) + 1) for _ in bad)
    out: list[bytes] = []
    taken = 0
    for position, line in enumerate(valid):
        while taken < len(slots) and slots[taken] <= position:
            out.append(bad[taken])
            taken += 1
        out.append(line)
    out.extend(bad[taken:])
    return Mixed(out, valid, stories)


def lines_as_read(data: bytes) -> int:
    """Non-blank lines as `events ingest` reads them (text mode, surrogateescape)."""
    import io

    from workflow.application.ingest import FILE_ENCODING

    with io.TextIOWrapper(io.BytesIO(data), encoding=FILE_ENCODING, errors="surrogateescape") as fh:
        return sum(1 for line in fh if line.strip())
