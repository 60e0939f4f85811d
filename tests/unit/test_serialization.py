"""The workers' JSON decoder: no body makes it raise, and one it cannot read keeps its bytes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.serialization import MAX_DEPTH, safe_loads, undecodable


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_body_decodes_or_comes_back_as_its_bytes(body: bytes) -> None:
    decoded = safe_loads(body)
    if isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], list) and decoded[0]:
        raw = undecodable(decoded[0][0])
        if raw is not None:
            assert raw.encode("utf-8", "surrogateescape") == body
            return
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:  # deeper: values flattened (`tasks.serialization`)
        expected = json.loads(body.decode("utf-8-sig"))
        assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_a_task_body_that_is_not_utf8_or_cut_short_reaches_its_task_as_a_stand_in() -> None:
    for body in (b'[[{"event_id": "x\xff"}], {}, {}]', b'[[{"event_id": "y"}, {}, {'):
        args, kwargs, embed = safe_loads(body)
        assert undecodable(args[0]) == body.decode("utf-8", "surrogateescape")
        assert kwargs == {} and embed["callbacks"] is None


def test_a_leading_byte_order_mark_is_dropped() -> None:
    assert safe_loads(b'\xef\xbb\xbf[["a"], {}, {}]') == [["a"], {}, {}]
    assert undecodable({"event_id": "x"}) is None
