"""PostgreSQL: the runtime role cannot undo the audit trail's protection, and the service works
end to end under it (the owner migrates; `db upgrade --runtime-role` grants)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from models import make_engine
from tests.conftest import Harness
from tests.factories import Story
from workflow.adapters import db_roles
from workflow.application.audit import chain
from workflow.application.inbox import drain_waiting, receive
from workflow.bootstrap import bootstrap
from workflow.domain.clock import ManualClock

ROLE = "accompagnement_test_runtime"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres(reason="roles are PostgreSQL's (SQLite: the file's permissions)")

UNDOING = [
    "ALTER TABLE transition_log DISABLE TRIGGER transition_log_append_only",
    "ALTER TABLE access_denial DISABLE TRIGGER ALL",
    "DROP TRIGGER transition_log_no_truncate ON transition_log",
    "TRUNCATE transition_log CASCADE",
    "UPDATE transition_log SET actor_id = 'X'",
    "DELETE FROM transition_log",
    "DELETE FROM audit_seal",
    "UPDATE revue_decision SET decision = 'x'",
    "DELETE FROM processed_event",
    "UPDATE alembic_version SET version_num = '0001'",
    "DROP TABLE audit_seal CASCADE",
    "ALTER TABLE transition_log OWNER TO " + ROLE,
    "SET session_replication_role = replica",
    "CREATE TABLE intrus (id int)",
]


@pytest.fixture
def runtime_url(db: Engine, database_url: str) -> str:
    done = db_roles.create_roles(db, "accompagnement_test_owner", ROLE)
    assert done[-1].endswith(f"{ROLE} peut s'y connecter")
    result = subprocess.run(
        [sys.executable, "-m", "workflow", "--database-url", database_url, "db", "upgrade",
         "--runtime-role", ROLE],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and f"rôle d'exécution {ROLE}" in result.stdout, (
        result.stdout + result.stderr
    )
    return make_url(database_url).set(username=ROLE).render_as_string(hide_password=False)


@pytest.mark.parametrize("statement", UNDOING)
def test_the_runtime_role_cannot_undo_the_audit_trail_s_protection(runtime_url: str, statement: str) -> None:
    engine = make_engine(runtime_url)
    try:
        with (
            engine.begin() as conn,
            pytest.raises(DBAPIError, match=r"permission denied|must be owner|append-only"),
        ):
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_the_service_works_end_to_end_as_the_runtime_role_and_warns_as_the_owner(
    runtime_url: str, db: Engine, harness: Harness
) -> None:
    """The directory imported by the owner (the harness), the events taken and applied as the
    runtime role: the door's and the worker's path."""
    assert isinstance(harness.ctx.clock, ManualClock)
    rt = bootstrap(runtime_url, clock=harness.ctx.clock)
    story = Story()
    items = [
        (f"si#{n}", json.dumps(e)) for n, e in enumerate([*story.until_contract(), story.exit("emploi")])
    ]
    receipt = receive(rt.uow(), rt.ctx, items, "si")
    assert len(receipt.pending) == 5
    report = drain_waiting(rt.uow(), rt.ctx, 100, defer=False)
    assert report.ingest.applied == 5, report.ingest.rejections
    with rt.uow() as uow:
        assert chain.verify_chains(uow.session).ok
    check = db_roles.check_role(rt.engine)
    assert check is not None and check.role == ROLE and check.warning is None
    rt.engine.dispose()
    owner = db_roles.check_role(db)
    assert owner is not None and owner.warning is not None and "superutilisateur" in owner.warning


def test_status_and_audit_verify_warn_under_the_owner_not_under_the_runtime_role(
    runtime_url: str, database_url: str
) -> None:
    def run(url: str, *argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "workflow", "--database-url", url, *argv], cwd=ROOT,
                              capture_output=True, text=True, check=False)  # fmt: skip
        return done.stdout

    warning = "attention : le service tourne sous le rôle postgres, superutilisateur"
    for argv in (("audit", "verify"), ("status",)):
        assert warning in run(database_url, *argv), argv
        assert "attention" not in run(runtime_url, *argv), argv
