"""Bring a database to the current schema with Alembic, from the CLI or from tests.

The migrations live in the repository's `alembic/` folder (the package is installed in
editable mode, see README); `ALEMBIC_DIR` is resolved next to this package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from alembic import command
from workflow.domain.errors import ConfigurationError

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"


def alembic_config() -> Config:
    if not (ALEMBIC_DIR / "env.py").exists():
        raise ConfigurationError(
            f"migrations introuvables dans {ALEMBIC_DIR} : installer le projet depuis son dépôt "
            "avec `pip install -e .`"
        )
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["configure_logging"] = False
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_current(engine: Engine) -> bool:
    """True when the schema exists (used to tell people to run `db upgrade` first)."""
    return inspect(engine).has_table("alembic_version")


@cache
def head() -> str | None:
    """The newest revision of the code's migrations (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def at_head(engine: Engine) -> bool:
    """True when the database's schema is the code's newest (`db upgrade` has run since the
    last migration shipped)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(versions) == [head()]


EXAMPLES = "par exemple sqlite:///accompagnement.db ou postgresql+psycopg://user@host:5432/base"


def check_url(url: str, may_create: bool) -> None:
    """Refuse, in one line naming the problem, a database URL that cannot work: not a URL, an
    unknown driver, a SQLite file in a folder that does not exist, or (unless `may_create`: only
    `db upgrade` and the demo make a database) a SQLite file that does not exist yet, which
    connecting would leave behind empty."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(f"l'URL de base de données {url!r} n'est pas une URL ({EXAMPLES})") from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:  # an ArgumentError too: asked first
        hint = " (PostgreSQL: postgresql+psycopg://…)" if parsed.drivername.startswith("postgres") else ""
        raise ConfigurationError(
            f"URL de base de données {url!r} : pilote inconnu {parsed.drivername!r}{hint}"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"URL de base de données {url!r} : le service fonctionne sur SQLite ou PostgreSQL ({EXAMPLES})"
        )
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.parent.is_dir():
        raise ConfigurationError(f"URL de base de données {url!r} : le dossier {path.parent} n'existe pas")
    if not may_create and not path.exists():
        raise ConfigurationError(f"aucune base à {path} : `accompagnement db upgrade` la crée")


def reachable(engine: Engine) -> Engine:
    """The engine, once a first connection worked; else the driver's reason in one line."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or ["sans raison donnée"])[0]
        reason = first.split("FATAL:", 1)[-1].strip()  # PostgreSQL's own words, after the address
        raise ConfigurationError(
            f"base de données injoignable {engine.url!r} (réponse du serveur : {reason})"
        ) from None
    return engine
