"""Who receives an agency's revue (seed 004 art. 5.2): the agency's people, and configured ones;
and who may read it in the console (`readable_revues`).

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
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from models import Case, Professional, Revue
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
        raise ConfigurationError(f"{path} : fichier illisible ou TOML mal formé ({exc})") from exc
    unknown = set(data) - {"departement", "agence"}
    if unknown:
        raise ConfigurationError(
            f"{path} : clé(s) de premier niveau inconnue(s) {sorted(unknown)} (departement, agence)"
        )
    out: dict[tuple[str, str], list[str]] = {}
    for level, blocks in data.items():
        for name, block in blocks.items():
            where = f"{path} : [{level}.{name!r}]"
            addresses = block.get("recipients") if isinstance(block, dict) else None
            if not isinstance(addresses, list) or not addresses:
                raise ConfigurationError(f"{where} : le champ 'recipients' est une liste d'adresses non vide")
            bad = [a for a in addresses if not isinstance(a, str) or not _ADDRESS.match(a)]
            if bad:
                raise ConfigurationError(f"{where} : le champ 'recipients' a des adresses invalides {bad}")
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


def readable_revues(reader: Professional) -> Any:
    """The revues `reader` may read, as a condition on `Revue`. Seed 004 art. 5.2 names who takes
    part and who receives the tableau: « les conseillers emploi FSE et travailleurs sociaux […]
    dédiés au dispositif et intervenant sur le territoire de l'agence » (a conseiller reads his
    agency's revues; a référent social those of the agencies where he is the binôme's social
    worker of an open case, as `recipients` sends them), « le directeur départemental […], les
    conseillers territoriaux insertion […], le chargé de mission du Département » (a superviseur
    and a référent AG read their département's). An orienteur, the operator, or a conseiller
    whose only tie to another agency is a case, read none: the tableau lists every case of the
    agency, not only theirs."""
    if not reader.active:
        return false()
    if reader.role in (Role.SUPERVISEUR, Role.REFERENT_AG) and reader.departement:
        return Revue.departement == reader.departement
    if reader.role == Role.CONSEILLER and reader.agence:
        return Revue.agence == reader.agence
    if reader.role == Role.REFERENT_SOCIAL:
        theirs = select(Case.agence).where(Case.referent_social_id == reader.id, Case.state.in_(OPEN_STATES))
        return Revue.agence.in_(theirs)
    return false()


def revue_agencies(session: Session, reader: Professional) -> list[str]:
    """The agencies of the revues `reader` may read, for the console's filter."""
    query = select(Revue.agence).where(readable_revues(reader)).distinct().order_by(Revue.agence)
    return list(session.scalars(query))
