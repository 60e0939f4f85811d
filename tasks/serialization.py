"""JSON messages that cannot crash a worker, however deeply a sender nests them.

A message decoded from JSON is pickled by the prefork pool on its way to a child process, and
pickling needs more stack than decoding: a payload nested a few hundred levels deep (which JSON
decodes) made the worker's main process die with "Unrecoverable error: RecursionError", then die
again on every redelivery. No event of the contract is more than four levels deep, and the
message envelope adds three; any value nested deeper than MAX_DEPTH is therefore handed to the
task as a string holding the start of its raw text, so the event that carries it is stored and
rejected with a reason naming the field, like any other malformed value.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.serialization import register
from kombu.utils.json import dumps, loads

MAX_DEPTH = 32  # levels of arrays and objects kept as they are; deeper ones become strings
KEPT = 200  # characters of a flattened value's raw text kept in its string


UNDECODABLE = "accompagnement:undecodable-message"  # the key of `undecodable`'s stand-in
# The rest of a task message's body (protocol 2: args, kwargs, embed) around the stand-in.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def safe_loads(body: str | bytes | bytearray | memoryview) -> Any:
    """Decode a JSON message. A body that is not JSON (bytes that are not UTF-8, an unclosed
    `[`) would be dropped by Celery with a CRITICAL log line and the sender never told; it is
    handed instead to its task as the one argument `{UNDECODABLE: text}` (see `undecodable`),
    so that an event door stores it as a rejected inbox row, its bytes kept."""
    try:
        text = bytes(body).decode("utf-8-sig") if not isinstance(body, str) else body.removeprefix("\ufeff")
        if text.count("[") + text.count("{") <= MAX_DEPTH:
            return loads(text)  # type: ignore[no-untyped-call]
        return loads(flatten_deep(text, MAX_DEPTH))  # type: ignore[no-untyped-call]
    except (UnicodeDecodeError, ValueError, RecursionError):
        raw = bytes(body).decode("utf-8", "surrogateescape") if not isinstance(body, str) else body
        return [[{UNDECODABLE: raw}], {}, _EMBED]


def undecodable(value: Any) -> str | None:
    """The raw text (bytes that are not UTF-8 as lone surrogates) of a message `safe_loads`
    could not decode, if `value` is its stand-in; else None."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(UNDECODABLE), str):
        return str(value[UNDECODABLE])
    return None


def flatten_deep(text: str, limit: int) -> str:
    """`text` with every array or object nested deeper than `limit` replaced by a JSON string of
    its raw text (cut to KEPT characters). Strings are skipped as the JSON grammar says; text
    that is not JSON comes out as it went in, for the decoder to refuse."""
    out: list[str] = []
    depth, start, last = 0, -1, 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == limit + 1:
                start = index
        elif char in "]}":
            if depth == limit + 1 and start >= 0:
                raw = text[start : index + 1]
                out += [text[last:start], json.dumps(raw[:KEPT] + ("…" if len(raw) > KEPT else ""))]
                last, start = index + 1, -1
            depth -= 1
    if start >= 0:  # never closed: cut it off, the decoder then refuses the message as truncated
        return text[:start] + json.dumps(text[start : start + KEPT])
    return "".join(out) + text[last:]


def install() -> None:
    """Decode every JSON message with `safe_loads` (encoding is kombu's own)."""
    register("json", dumps, safe_loads, "application/json", "utf-8")  # type: ignore[no-untyped-call]
