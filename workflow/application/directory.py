"""The directory of professionals, imported from the partners' HR exports (CSV).

Columns: id, role, name, email, departement, agence, territory, active. Importing the same
file twice changes nothing; a row with a bad role or email is reported with its line number
and the whole import is refused, so the directory is never half-updated.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass

from models import Professional
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.domain.errors import ConfigurationError
from workflow.domain.vocabulary import Role

COLUMNS = ("id", "role", "name", "email", "departement", "agence", "territory", "active")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,32}$")
_TRUE = {"1", "true", "oui", "yes", ""}
_FALSE = {"0", "false", "non", "no"}


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int


def read_csv(lines: Iterable[str], source: str) -> list[dict[str, str]]:
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or []) and c != "active"]
    if missing:
        raise ConfigurationError(
            f"{source} : colonne(s) manquante(s) {missing} (attendues : {', '.join(COLUMNS)})"
        )
    rows = []
    for line_no, row in enumerate(reader, start=2):
        rows.append(_check(row, f"{source}:{line_no}"))
    return rows


def _check(row: dict[str, str], where: str) -> dict[str, str]:
    clean = {k: (row.get(k) or "").strip() for k in COLUMNS}
    if not _ID.match(clean["id"]):
        raise ConfigurationError(
            f"{where} : le champ 'id' compte 1 à 32 lettres, chiffres ou ._:- (reçu {clean['id']!r})"
        )
    if clean["role"] not in {r.value for r in Role} or clean["role"] == Role.SYSTEME:
        roles = ", ".join(r.value for r in Role if r != Role.SYSTEME)
        raise ConfigurationError(f"{where} : le champ 'role' vaut l'un de {roles} (reçu {clean['role']!r})")
    if not clean["name"]:
        raise ConfigurationError(f"{where} : le champ 'name' est vide")
    if not _EMAIL.match(clean["email"]):
        raise ConfigurationError(
            f"{where} : le champ 'email' n'est pas une adresse (reçu {clean['email']!r})"
        )
    if not clean["departement"]:
        raise ConfigurationError(f"{where} : le champ 'departement' est vide")
    if clean["active"].lower() not in _TRUE | _FALSE:
        raise ConfigurationError(f"{where} : le champ 'active' vaut true ou false (reçu {clean['active']!r})")
    return clean


def import_rows(uow: UnitOfWork, rows: list[dict[str, str]]) -> ImportReport:
    existing = uow.directory.by_id()
    added = updated = unchanged = 0
    for row in rows:
        values = {
            "role": row["role"],
            "name": row["name"],
            "email": row["email"],
            "departement": row["departement"],
            "agence": row["agence"] or None,
            "territory": row["territory"] or None,
            "active": row["active"].lower() not in _FALSE,
        }
        pro = existing.get(row["id"])
        if pro is None:
            pro = Professional(id=row["id"], **values)
            uow.directory.add(pro)
            existing[pro.id] = pro
            added += 1
        elif all(getattr(pro, k) == v for k, v in values.items()):
            unchanged += 1
        else:
            for key, value in values.items():
                setattr(pro, key, value)
            updated += 1
    uow.flush()
    return ImportReport(added, updated, unchanged)


def import_file(uow: UnitOfWork, lines: Iterable[str], source: str) -> ImportReport:
    """Read a professionals' CSV and import it, in one transaction: a bad line refuses the file
    whole (naming the line and the field), nothing half-imported."""
    rows = read_csv(lines, source)
    with uow:
        report = import_rows(uow, rows)
        uow.commit()
    return report
