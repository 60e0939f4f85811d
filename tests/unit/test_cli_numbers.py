"""Every numeric option of every command refuses negative, NaN, infinite, out-of-range and
unreadable values with one French line and exit 2; a value in range is taken as typed."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.cli import build_parser
from workflow.cli.common import Decimal, Whole

NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        ["nan", "-nan", "inf", "-inf", "1e400", "-0", "2,5", " 7 ", "", "1_000", "0x10", "½", "٣"]
    ),
    st.text(max_size=12),
)


def numeric_options() -> Iterator[tuple[str, argparse.Action]]:
    """(command, action) of every option or argument whose type is a number."""
    stack: list[tuple[str, argparse.ArgumentParser]] = [("accompagnement", build_parser())]
    while stack:
        name, parser = stack.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend((f"{name} {sub}", child) for sub, child in action.choices.items())
            elif action.type in (int, float) or isinstance(action.type, (Whole, Decimal)):
                yield name, action


OPTIONS = sorted(numeric_options(), key=lambda pair: (pair[0], pair[1].dest))


def test_the_options_are_found_and_none_is_a_bare_int_or_float() -> None:
    found = {(name, action.dest) for name, action in OPTIONS}
    assert {("accompagnement forecast", "inflow"), ("accompagnement forecast", "months"),
            ("accompagnement events rejected", "limit"), ("accompagnement web serve", "port"),
            ("accompagnement retention run", "months")} <= found  # fmt: skip
    assert [(n, a.dest) for n, a in OPTIONS if a.type in (int, float)] == []


@pytest.mark.parametrize(("command", "action"), OPTIONS, ids=[f"{n} {a.dest}" for n, a in OPTIONS])
@settings(max_examples=150, deadline=None)
@given(text=NUMBERS)
def test_a_numeric_option_takes_a_value_in_range_or_refuses_it_in_french(
    command: str, action: argparse.Action, text: str
) -> None:
    kind = action.type
    assert isinstance(kind, (Whole, Decimal))
    try:
        value = kind(text)
    except argparse.ArgumentTypeError as exc:
        message = str(exc)
        assert "\n" not in message and ("n'est pas" in message or "hors des bornes" in message), message
        return
    assert kind.low <= value <= kind.high and math.isfinite(value)
    assert isinstance(value, int) if isinstance(kind, Whole) else isinstance(value, float)


def test_a_refused_value_is_one_french_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    refused = (["forecast", "--inflow", "-5"], ["forecast", "--inflow", "nan"],
               ["forecast", "--inflow", "inf"], ["events", "rejected", "--limit", "0"],
               ["case", "show", "X", "--at", "31/02/2026"])  # fmt: skip
    for argv in refused:
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("erreur : option --"), err
