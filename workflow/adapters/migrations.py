"""Bring a database to the current schema with Alembic, from the CLI or from tests.

The migrations live in the repository's `alembic/` folder (the package is installed in
editable mode, see README); `ALEMBIC_DIR` is resolved next to this package.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, inspect

from alembic import command
from workflow.domain.errors import ConfigurationError

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(engine: Engine) -> Config:
    if not (ALEMBIC_DIR / "env.py").exists():
        raise ConfigurationError(
            f"migrations not found in {ALEMBIC_DIR}: install the project from its repository "
            "with `pip install -e .`"
        )
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["configure_logging"] = False
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_current(engine: Engine) -> bool:
    """True when the schema exists (used to tell people to run `db upgrade` first)."""
    return inspect(engine).has_table("alembic_version")
