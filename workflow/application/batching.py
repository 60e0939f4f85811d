"""Cutting a JSON Lines file into batches for the workers, one case's events kept together.

A batch is applied in one transaction, in the order given; keeping all the events of a case in
the same batch, in file order, means no two workers ever race on that case for this file. Lines
that cannot be read as JSON objects go alone: the inbox rejects them with their reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

BATCH_SIZE = 500  # events per message: ~250 KB of JSON, about a second of worker time


def _key(event: dict[str, Any], position: int, cases_of: dict[str, str]) -> str:
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
    return f"line:{position}"


def plan_batches(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> list[list[int]]:
    """The positions of `texts` in batches: a case's events together, in order of first
    appearance; a case larger than a batch is never split."""
    groups: dict[str, list[int]] = {}
    cases_of: dict[str, str] = {}
    for position, text in enumerate(texts):
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            event = None
        key = _key(event, position, cases_of) if isinstance(event, dict) else f"line:{position}"
        groups.setdefault(key, []).append(position)
    batches: list[list[int]] = []
    current: list[int] = []
    for group in groups.values():
        if current and len(current) + len(group) > batch_size:
            batches.append(current)
            current = []
        current.extend(group)
    if current:
        batches.append(current)
    return batches
