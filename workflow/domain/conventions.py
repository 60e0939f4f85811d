"""Conventions as data: figures per Département, versioned by avenant, with defaults.

The shipped file is `workflow/data/conventions.toml`; an operator names an override file in
ACCOMPAGNEMENT_CONVENTIONS (both read by `workflow.adapters.convention_files`). Each version is
copied into the `convention_version` table when first seen, and a case pins the version in force
on the day its contract is signed, so a later edit of the file never changes the terms of a
signed contract.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, time
from typing import Any

from workflow.domain.errors import ConfigurationError

_IDENTITY_KEYS = ("code", "version", "name", "effective_from", "seeds")
# When the agencies of the convention hold their revue de portefeuille. Not terms of a contract:
# never pinned, so changing them moves the next revues and nothing else.
_SCHEDULE_KEYS = ("revue_working_day", "revue_time")
MAX_REVUE_WORKING_DAY = 18  # the fewest working days a month can have


@dataclass(frozen=True)
class RevueSchedule:
    """seed 004 art. 5.2: « une concertation mensuelle » per agency; the day is left to the
    partners: the n-th working day of the month at a time of day (default the first, 08:00)."""

    working_day: int = 1
    at: time = time(8, 0)


@dataclass(frozen=True)
class Terms:
    """The figures the rules read. Each has a default in the [defaults] table."""

    first_contract_months: int
    renewal_months: int
    max_renewals: int
    max_total_months: int
    entry_target_days: int
    convocation_days: int
    first_appointment_days: int
    portfolio_min: int
    portfolio_max: int
    expiry_reminder_days: tuple[int, ...]
    confiance_reciproque: bool
    social_reorientation_needs_ep: bool
    dedicated_conseillers: int | None = None


TERM_NAMES = tuple(f.name for f in fields(Terms))
_OPTIONAL_TERMS = frozenset({"dedicated_conseillers"})


@dataclass(frozen=True)
class Convention:
    code: str
    version: str
    name: str
    effective_from: date
    seeds: tuple[str, ...]
    terms: Terms
    defaulted: tuple[str, ...]  # figures that the convention leaves out and take the default
    revue: RevueSchedule = RevueSchedule()

    def figures(self) -> dict[str, Any]:
        """The terms as JSON-ready data, the form stored in `convention_version.figures`."""
        data = {name: getattr(self.terms, name) for name in TERM_NAMES}
        data["expiry_reminder_days"] = list(self.terms.expiry_reminder_days)
        return data


def terms_from_figures(figures: dict[str, Any]) -> Terms:
    """Rebuild the terms pinned in the database (`convention_version.figures`)."""
    values = dict(figures)
    values["expiry_reminder_days"] = tuple(values.get("expiry_reminder_days", ()))
    return Terms(**{k: v for k, v in values.items() if k in TERM_NAMES})


class ConventionBook:
    """Every version of every convention, and which one is in force on a given day."""

    def __init__(self, conventions: list[Convention]) -> None:
        self._by_code: dict[str, list[Convention]] = {}
        for conv in sorted(conventions, key=lambda c: (c.code, c.effective_from)):
            self._by_code.setdefault(conv.code, []).append(conv)

    def all(self) -> list[Convention]:
        return [c for code in sorted(self._by_code) for c in self._by_code[code]]

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def in_force(self, code: str, on: date) -> Convention:
        versions = self._by_code.get(code)
        if not versions:
            known = ", ".join(self.codes())
            raise ConfigurationError(f"aucune convention pour le département {code!r} (connus : {known})")
        current = [c for c in versions if c.effective_from <= on]
        if not current:
            first = versions[0]
            raise ConfigurationError(
                f"la convention {code} n'a pas de version en vigueur le {on.strftime('%d/%m/%Y')} "
                f"(la première, {first.version}, prend effet le {first.effective_from.strftime('%d/%m/%Y')})"
            )
        return current[-1]


def book_from(sources: Sequence[tuple[str, str]]) -> ConventionBook:
    """The book of (name, TOML text) sources: the shipped file first, then each override,
    whose blocks replace the same (code, version) and whose defaults win
    (`workflow.adapters.convention_files` reads the files)."""
    (first_name, first_text), *overrides = sources
    base = _read_toml(first_text, first_name)
    for name, text in overrides:
        base = _merge(base, _read_toml(text, name), name)
    return ConventionBook(_build(base))


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source} : TOML mal formé ({exc})") from exc
    unknown = set(data) - {"defaults", "convention"}
    if unknown:
        raise ConfigurationError(f"{source} : clé(s) de premier niveau inconnue(s) {sorted(unknown)}")
    return {
        "source": source,
        "defaults": data.get("defaults", {}),
        "convention": data.get("convention", []),
    }


def _merge(base: dict[str, Any], extra: dict[str, Any], source: str) -> dict[str, Any]:
    defaults = {**base["defaults"], **extra["defaults"]}
    blocks = {(b.get("code"), b.get("version")): dict(b) for b in base["convention"]}
    for block in extra["convention"]:
        key = (block.get("code"), block.get("version"))
        blocks[key] = {**blocks.get(key, {}), **block}
    return {
        "source": f"{base['source']} + {source}",
        "defaults": defaults,
        "convention": list(blocks.values()),
    }


def _build(data: dict[str, Any]) -> list[Convention]:
    source = data["source"]
    defaults = data["defaults"]
    unknown = set(defaults) - set(TERM_NAMES) - set(_SCHEDULE_KEYS)
    if unknown:
        raise ConfigurationError(f"{source} : [defaults] a un ou des chiffres inconnus {sorted(unknown)}")
    missing_defaults = set(TERM_NAMES) - set(defaults) - _OPTIONAL_TERMS
    if missing_defaults:
        raise ConfigurationError(f"{source} : il manque à [defaults] {sorted(missing_defaults)}")
    conventions = []
    seen: set[tuple[str, str]] = set()
    for index, block in enumerate(data["convention"], start=1):
        where = f"{source}: [[convention]] #{index} ({block.get('code', '?')}/{block.get('version', '?')})"
        for key in ("code", "version", "name", "effective_from"):
            if key not in block:
                raise ConfigurationError(f"{where} : {key!r} manque")
        unknown = set(block) - set(TERM_NAMES) - set(_IDENTITY_KEYS) - set(_SCHEDULE_KEYS)
        if unknown:
            raise ConfigurationError(f"{where} : chiffre(s) inconnu(s) {sorted(unknown)}")
        if not isinstance(block["effective_from"], date):
            raise ConfigurationError(f"{where} : effective_from est une date comme 2024-01-01")
        ident = (str(block["code"]), str(block["version"]))
        if ident in seen:
            raise ConfigurationError(f"{where} : version donnée deux fois")
        seen.add(ident)
        values = {name: block.get(name, defaults.get(name)) for name in TERM_NAMES}
        schedule = {name: block.get(name, defaults.get(name)) for name in _SCHEDULE_KEYS}
        defaulted = tuple(n for n in TERM_NAMES if n not in block and n not in _OPTIONAL_TERMS)
        terms = _check_terms(values, where)
        conventions.append(
            Convention(
                code=ident[0],
                version=ident[1],
                name=str(block["name"]),
                effective_from=block["effective_from"],
                seeds=tuple(block.get("seeds", ())),
                terms=terms,
                defaulted=defaulted,
                revue=_check_schedule(schedule, where),
            )
        )
    return conventions


def _check_schedule(values: dict[str, Any], where: str) -> RevueSchedule:
    day, at = values["revue_working_day"], values["revue_time"]
    schedule = RevueSchedule()
    if day is not None:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_REVUE_WORKING_DAY:
            raise ConfigurationError(
                f"{where} : revue_working_day est un nombre entier de 1 à {MAX_REVUE_WORKING_DAY} "
                f"(le n-ième jour ouvré du mois), pas {day!r}"
            )
        schedule = RevueSchedule(day, schedule.at)
    if at is not None:
        try:
            parsed = at if isinstance(at, time) else time.fromisoformat(str(at))
        except ValueError:
            raise ConfigurationError(
                f'{where} : revue_time est une heure comme "08:00", pas {at!r}'
            ) from None
        schedule = RevueSchedule(schedule.working_day, parsed.replace(second=0, microsecond=0))
    return schedule


def _check_terms(values: dict[str, Any], where: str) -> Terms:
    for name, value in values.items():
        if name == "expiry_reminder_days":
            if not isinstance(value, list) or not all(isinstance(v, int) and v > 0 for v in value):
                raise ConfigurationError(f"{where} : {name} est une liste de nombres de jours positifs")
        elif name in ("confiance_reciproque", "social_reorientation_needs_ep"):
            if not isinstance(value, bool):
                raise ConfigurationError(f"{where} : {name} vaut true ou false")
        elif value is None and name in _OPTIONAL_TERMS:
            continue
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{where} : {name} est un nombre entier >= 0, pas {value!r}")
    if values["first_contract_months"] < 1:
        raise ConfigurationError(f"{where} : first_contract_months vaut au moins 1")
    if values["first_contract_months"] > values["max_total_months"]:
        raise ConfigurationError(f"{where} : first_contract_months dépasse max_total_months")
    if values["portfolio_min"] > values["portfolio_max"]:
        raise ConfigurationError(f"{where} : portfolio_min dépasse portfolio_max")
    values["expiry_reminder_days"] = tuple(sorted(values["expiry_reminder_days"], reverse=True))
    return Terms(**values)
