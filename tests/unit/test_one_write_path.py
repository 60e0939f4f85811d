"""One write path, in fact: application code writes only through the unit of work's
repositories (docs/developing.md, "One path for each thing"). It may read through a session (the
read queries of `workflow/application/queries/` and the rules' facts), so `uow.session` may be
handed to a function as an argument; it may not be written to: no ORM add, delete, merge, flush
or savepoint on a session, no INSERT, UPDATE, DELETE or raw SQL built, no method called on
`uow.session` itself, and no other name given to it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = ROOT / "workflow" / "application"
ENTRY_POINTS = ("web", "tasks", "scheduler", "workflow/cli", "workflow/demo", "workflow/bootstrap.py")
# Raw SQL an entry point runs that writes no row: the health probe's `SELECT 1`, and the
# scheduler's leadership (a PostgreSQL advisory lock, and a look at pg_locks).
READS_IN_RAW_SQL = {"web/health.py", "scheduler/leader.py"}
SESSION_WRITES = frozenset({"add", "add_all", "delete", "merge", "flush", "begin_nested"})
SQL_WRITES = frozenset({"insert", "update", "delete", "text"})
DIALECTS = frozenset({"sqlite", "postgresql", "dialect", "sa"})


def writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of each write `source` does outside the repositories."""
    tree = ast.parse(source)
    arguments = {id(a) for node in ast.walk(tree) if isinstance(node, ast.Call) for a in node.args}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "session":
            on_uow = isinstance(node.value, ast.Name) and node.value.id == "uow"
            if on_uow and id(node) not in arguments:
                found.append((node.lineno, "uow.session used other than as a read's argument"))
        if isinstance(node, ast.Call):
            called = node.func
            on_a_session = (
                isinstance(called, ast.Attribute)
                and called.attr in SESSION_WRITES
                and isinstance(called.value, ast.Name)
                and "session" in called.value.id
            )
            if on_a_session:
                found.append((node.lineno, f"{ast.unparse(called)}()"))
            # SQLAlchemy's builders, bare or from a dialect (`counts.update(...)` is no SQL).
            bare = isinstance(called, ast.Name) and called.id in SQL_WRITES
            dialect = (
                isinstance(called, ast.Attribute)
                and called.attr in SQL_WRITES
                and isinstance(called.value, ast.Name)
                and called.value.id in DIALECTS
            )
            if bare or dialect:
                found.append((node.lineno, f"{ast.unparse(called)}() builds a write"))
    return sorted(found)


def test_application_code_writes_only_through_the_repositories() -> None:
    offenders = {
        path.relative_to(APPLICATION).as_posix(): found
        for path in sorted(APPLICATION.rglob("*.py"))
        if (found := writes(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_entry_points_write_only_through_the_repositories() -> None:
    """The console's sign-ins, sessions and tokens too (`adapters/console_accounts.py`). An entry
    point may read through `uow.session` (its own queries), as long as it writes nothing."""
    paths = [
        path
        for entry in ENTRY_POINTS
        for path in ([ROOT / entry] if entry.endswith(".py") else sorted((ROOT / entry).rglob("*.py")))
    ]
    offenders = {
        path.relative_to(ROOT).as_posix(): {what for _, what in writes(path.read_text(encoding="utf-8"))}
        - {"uow.session used other than as a read's argument"}
        for path in paths
    }
    offenders = {name: kinds for name, kinds in offenders.items() if kinds}
    assert offenders == {name: {"text() builds a write"} for name in READS_IN_RAW_SQL}


def test_the_check_sees_each_kind_of_write() -> None:
    source = (
        "def f(uow, session):\n"
        "    session.add(x)\n"
        "    uow.session.execute(q)\n"
        "    s = uow.session\n"
        "    uow.session.flush()\n"
        "    session.execute(update(T).values(a=1))\n"
        "    session.execute(text('DELETE FROM t'))\n"
        "    read(uow.session, 1)\n"
        "    counts.update(other)\n"
    )
    assert [line for line, _ in writes(source)] == [2, 3, 4, 5, 6, 7]
