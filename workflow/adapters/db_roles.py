"""Two PostgreSQL roles: an owner that migrates, and the runtime role the service runs as.

The owner of a table may switch its triggers off, drop them, truncate it or drop it: the role
that runs `db upgrade` must therefore not be the one the workers, the scheduler, the door and
the console use, or a hand-typed `ALTER TABLE transition_log DISABLE TRIGGER …` would undo the
audit trail's protection. `db upgrade --runtime-role R` (run as the owner) grants R what the
service needs and nothing more: it reads and writes the working tables, it only reads and appends
to the audit tables (APPEND_ONLY), and it owns nothing, so it can neither alter, disable a
trigger of, drop nor truncate any of them. `db roles` creates both roles for the operator (run
once by an administrator of the cluster). SQLite has no roles: the file's permissions are its
protection.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

RUNTIME_ENV = "ACCOMPAGNEMENT_RUNTIME_ROLE"
# Rows the service appends and never changes: the log and its seals, the refusals on record,
# the decisions taken in revue, the events applied (the replay's proof of exactly once).
APPEND_ONLY = ("transition_log", "audit_seal", "access_denial", "revue_decision", "processed_event")
READ_ONLY = ("alembic_version",)  # the schema's version: the service checks it, only `db upgrade` moves it


def _quoted(connection: Connection, name: str) -> str:
    """A role's name as an SQL identifier (PostgreSQL's own quoting)."""
    return str(connection.scalar(text("SELECT quote_ident(:n)"), {"n": name}))


def grant_runtime(engine: Engine, role: str) -> None:
    """Give `role` the service's rights on every table and sequence of the schema, and only
    those (run after each migration: a new table is granted at once)."""
    with engine.begin() as connection:
        who = _quoted(connection, role)
        tables = [
            str(t)
            for t in connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ]
        connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {who}"))
        connection.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {who}"))
        connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}"))
        for table in tables:
            if table in READ_ONLY:
                rights = "SELECT"
            elif table in APPEND_ONLY:
                rights = "SELECT, INSERT"
            else:
                rights = "SELECT, INSERT, UPDATE, DELETE"
            connection.execute(text(f"GRANT {rights} ON {_quoted(connection, table)} TO {who}"))
        connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}"))


@dataclass(frozen=True)
class RoleCheck:
    """Whether the role connected may undo the audit trail's protection, and why."""

    role: str
    owns_audit_tables: bool
    superuser: bool

    @property
    def warning(self) -> str | None:
        if self.superuser:
            return (f"attention : le service tourne sous le rôle {self.role}, superutilisateur : il "
                    "peut désactiver la protection du journal ; utilisez le rôle d'exécution "
                    "(docs/operating.md)")  # fmt: skip
        if self.owns_audit_tables:
            return (f"attention : le service tourne sous le rôle {self.role}, propriétaire des tables du "
                    "journal : il peut en désactiver la protection ; utilisez le rôle d'exécution "
                    "(docs/operating.md)")  # fmt: skip
        return None


def check_role(engine: Engine) -> RoleCheck | None:
    """The connected role's powers over the audit tables (None on SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        role = str(connection.scalar(text("SELECT current_user")))
        superuser = bool(
            connection.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        )
        owners = connection.scalar(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(:t) "
                "AND pg_has_role(current_user, tableowner, 'USAGE')"
            ),
            {"t": list(APPEND_ONLY)},
        )
    return RoleCheck(role, bool(owners), bool(superuser))


def create_roles(engine: Engine, owner: str, runtime: str) -> list[str]:
    """Create the owner and the runtime roles (LOGIN, no password: the operator sets one, or
    uses the cluster's own authentication), the owner allowed to create in the schema; return
    what was done, in French. Run by an administrator of the cluster; existing roles are kept."""
    done = []
    with engine.begin() as connection:
        for name in (owner, runtime):
            exists = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name})
            if exists:
                done.append(f"rôle {name} : existe déjà")
                continue
            connection.execute(text(f"CREATE ROLE {_quoted(connection, name)} LOGIN"))
            done.append(f"rôle {name} : créé")
        database = str(connection.scalar(text("SELECT current_database()")))
        base, first, second = (_quoted(connection, n) for n in (database, owner, runtime))
        connection.execute(text(f"GRANT CONNECT ON DATABASE {base} TO {first}, {second}"))
        connection.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))  # PostgreSQL < 15 allowed it
        connection.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {first}"))
        done.append(f"{owner} peut créer les tables dans la base {database} ; {runtime} peut s'y connecter")
    return done
