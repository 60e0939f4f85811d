"""A file the command cannot read is one French line naming it, not the system's English."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from workflow.cli import file_problem


def absent(tmp: Path) -> object:
    return (tmp / "absent.jsonl").open()


def a_folder(tmp: Path) -> object:
    return tmp.open()


def through_a_file(tmp: Path) -> object:
    (tmp / "f").write_text("")
    return (tmp / "f" / "x").open()


@pytest.mark.parametrize(
    ("attempt", "said"),
    [
        (absent, "fichier ou dossier introuvable : {tmp}/absent.jsonl"),
        (a_folder, "c'est un dossier, pas un fichier : {tmp}"),
        (through_a_file, "un élément du chemin n'est pas un dossier : {tmp}/f/x"),
    ],
)
def test_a_file_problem_is_said_in_french_with_the_file(
    attempt: Callable[[Path], object], said: str, tmp_path: Path
) -> None:
    with pytest.raises(OSError) as raised:
        attempt(tmp_path)
    assert file_problem(raised.value) == said.format(tmp=tmp_path)
