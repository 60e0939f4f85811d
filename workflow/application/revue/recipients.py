"""Who receives an agency's revue (seed 004 art. 5.2): the agency's people, and configured ones.

From the directory: the agency's active conseillers and the social workers (référents sociaux)
of its open cases. From configuration (ACCOMPAGNEMENT_REVUE_RECIPIENTS, a TOML file): people
outside the directory, per département and per agency — the FT departmental director and FSE
officer, the Département's territorial insertion officers and officer:

    [departement."67"]
    recipients = ["direction.67@francetravail.example", "fse.67@francetravail.example"]

    [agence."Strasbourg-Nord"]
    recipients = ["insertion.nord@bas-rhin.example"]
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case, Professional
from workflow.domain.errors import ConfigurationError
from workflow.domain.lifecycle import OPEN_STATES
from workflow.domain.vocabulary import Role

CONFIG_ENV = "ACCOMPAGNEMENT_REVUE_RECIPIENTS"
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def configured(path: Path | None = None) -> dict[tuple[str, str], list[str]]:
    """{("departement", "67"): [...], ("agence", "Strasbourg-Nord"): [...]} from the file, checked."""
    if path is None:
        if not os.environ.get(CONFIG_ENV):
            return {}
        path = Path(os.environ[CONFIG_ENV])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    unknown = set(data) - {"departement", "agence"}
    if unknown:
        raise ConfigurationError(f"{path}: unknown top-level key(s) {sorted(unknown)} (departement, agence)")
    out: dict[tuple[str, str], list[str]] = {}
    for level, blocks in data.items():
        for name, block in blocks.items():
            where = f"{path}: [{level}.{name!r}]"
            addresses = block.get("recipients") if isinstance(block, dict) else None
            if not isinstance(addresses, list) or not addresses:
                raise ConfigurationError(f"{where}: field 'recipients' must be a non-empty list of addresses")
            bad = [a for a in addresses if not isinstance(a, str) or not _ADDRESS.match(a)]
            if bad:
                raise ConfigurationError(f"{where}: field 'recipients' has invalid address(es) {bad}")
            out[(level, str(name))] = list(addresses)
    return out


def recipients(session: Session, agence: str, departement: str) -> list[str]:
    """Professional ids of the agency's people, then the configured addresses, each once."""
    conseillers = session.scalars(
        select(Professional.id)
        .where(
            Professional.agence == agence, Professional.role == Role.CONSEILLER, Professional.active.is_(True)
        )
        .order_by(Professional.id)
    )
    social = session.scalars(
        select(Case.referent_social_id)
        .where(Case.agence == agence, Case.state.in_(OPEN_STATES), Case.referent_social_id.is_not(None))
        .distinct()
        .order_by(Case.referent_social_id)
    )
    config = configured()
    extra = config.get(("departement", departement), []) + config.get(("agence", agence), [])
    return list(dict.fromkeys([*conseillers, *(s for s in social if s), *extra]))
