"""Cutting a JSON Lines file into batches for the workers, one case's events kept together.

A batch is applied in one transaction, in the order given; keeping all the events of a case in
the same batch, in file order, means no two workers ever race on that case for this file. The
file is read whole to group it (about 0.5 KB of memory per event).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

BATCH_SIZE = 500  # events per message: ~250 KB of JSON, about a second of worker time


@dataclass
class Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class BadLine:
    line: int
    raw: str
    reason: str


def _key(event: dict[str, Any], line: int, cases_of: dict[str, str]) -> str:
    """Events of one case share a key; a person's registration flows join the case the file
    opened for that person (learnt from its orientation), else a key of the person's own."""
    person = event.get("person")
    if isinstance(event.get("case_ref"), str):
        key = f"case:{event['case_ref']}"
        if isinstance(person, dict) and isinstance(person.get("ft_identifier"), str):
            cases_of[person["ft_identifier"]] = key
        return key
    if isinstance(event.get("ft_identifier"), str):
        return cases_of.get(event["ft_identifier"], f"person:{event['ft_identifier']}")
    return f"line:{line}"


def plan_batches(lines: Iterable[str], batch_size: int = BATCH_SIZE) -> tuple[list[Batch], list[BadLine]]:
    """Group decodable lines by case, in order of first appearance; report the others."""
    groups: dict[str, Batch] = {}
    cases_of: dict[str, str] = {}
    bad: list[BadLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, UnicodeEncodeError) as exc:
            reason = (
                f"malformed JSON: {exc.msg} (column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else "not valid UTF-8"
            )
            bad.append(BadLine(number, line.rstrip("\n"), reason))
            continue
        if not isinstance(event, dict):
            bad.append(
                BadLine(number, line.rstrip("\n"), f"an event is a JSON object, not {type(event).__name__}")
            )
            continue
        group = groups.setdefault(_key(event, number, cases_of), Batch())
        group.events.append(event)
        group.lines.append(number)
    batches: list[Batch] = []
    current = Batch()
    for group in groups.values():
        if current.events and len(current.events) + len(group.events) > batch_size:
            batches.append(current)
            current = Batch()
        current.events.extend(group.events)
        current.lines.extend(group.lines)
    if current.events:
        batches.append(current)
    return batches, bad
