"""Test data: a directory of professionals and `Story`, which writes one case's events."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow.domain.clock import PARIS

PROFESSIONALS_CSV = """id,role,name,email,departement,agence,territory,active
C67,conseiller,Claire Conseillère,claire@ft.example,67,Strasbourg-Nord,,true
C67B,conseiller,Bruno Conseiller,bruno@ft.example,67,Strasbourg-Nord,,true
R67,referent_social,Rémi Référent,remi@cd67.example,67,,UTAMS Nord,true
R67B,referent_social,Rose Référente,rose@cd67.example,67,,UTAMS Sud,true
O67,orienteur,Olga Orienteuse,olga@cd67.example,67,,UTAMS Nord,true
C35,conseiller,Yann Conseiller,yann@ft.example,35,Rennes-Est,,true
R35,referent_social,Anne Référente,anne@cd35.example,35,,CDAS Rennes,true
C82,conseiller,Paul Conseiller,paul@ft.example,82,Montauban,,true
R82,referent_social,Lise Référente,lise@cd82.example,82,,MDS Montauban,true
S67,superviseur,Sam Superviseur,sam@cd67.example,67,,,true
AG67N,referent_ag,Agnès Référente AG,agnes@cd67.example,67,,UTAMS Nord,true
AG67,referent_ag,Alain Référent AG,alain@cd67.example,67,,,true
OLD,conseiller,Ancien Conseiller,old@ft.example,67,Strasbourg-Nord,,false
"""

BINOMES = {"67": ("C67", "R67"), "35": ("C35", "R35"), "82": ("C82", "R82")}
_refs = itertools.count(1)


def at(day: date, hour: int = 10) -> datetime:
    """An aware instant on `day` at `hour` in Paris."""
    return datetime.combine(day, time(hour), PARIS)


class Story:
    """The events of one case, written in order; each call moves the story's day forward.

    Every method returns a plain dict (the JSON the integration contract carries) and takes
    keyword overrides, so a test can break exactly one field.
    """

    def __init__(
        self,
        departement: str = "67",
        start: date = date(2026, 3, 2),
        status: str = "BRSA",
        origin: str = "france_travail",
        ref: str | None = None,
    ) -> None:
        n = next(_refs)
        self.ref = ref or f"AG-{departement}-{n:05d}"
        self.ft = f"FT{n:07d}"
        self.departement = departement
        self.day = start
        self.status = status
        self.origin = origin
        self.conseiller, self.referent = BINOMES[departement]
        self._seq = itertools.count(1)
        self._appointments = itertools.count(1)

    def _event(self, event_type: str, days: int, actor: tuple[str, str], **fields: Any) -> dict[str, Any]:
        self.day += timedelta(days=days)
        event = {
            "event_id": f"{self.ref}-{next(self._seq)}",
            "type": event_type,
            "occurred_at": at(self.day).isoformat(),
            "actor": {"id": actor[0], "role": actor[1]},
        }
        if event_type not in ("registration_ended", "radiation"):
            event["case_ref"] = self.ref
        event.update(fields)
        return event

    @property
    def _by_conseiller(self) -> tuple[str, str]:
        return (self.conseiller, "conseiller")

    def orientation(self, days: int = 0, **fields: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "person": {
                "ft_identifier": self.ft,
                "status": self.status,
                "registered": True,
                "departement": self.departement,
                "agence": "Strasbourg-Nord" if self.departement == "67" else "Agence",
            },
            "origin": self.origin,
            "barriers": {"social": ["logement"], "professional": ["mobilite"]},
            "consent": True,
        }
        values.update(fields)
        return self._event("orientation_proposed", days, self._by_conseiller, **values)

    def binome(self, days: int = 1, **fields: Any) -> dict[str, Any]:
        values = {"conseiller_id": self.conseiller, "referent_social_id": self.referent, **fields}
        return self._event("binome_assigned", days, self._by_conseiller, **values)

    def consent(self, given: bool, days: int = 1) -> dict[str, Any]:
        return self._event("consent_recorded", days, self._by_conseiller, consent=given)

    def diagnostic(self, days: int = 5, **fields: Any) -> dict[str, Any]:
        values = {
            "kind": "partage",
            "conseiller_opinion": "favorable",
            "referent_opinion": "favorable",
            **fields,
        }
        return self._event("diagnostic_done", days, self._by_conseiller, **values)

    def contract(self, days: int = 5, **fields: Any) -> dict[str, Any]:
        values = {"referent_social_id": self.referent, **fields}
        return self._event("contract_signed", days, self._by_conseiller, **values)

    def renewal(self, days: int = 0, **fields: Any) -> dict[str, Any]:
        values = {
            "decided_by": "binome",
            "conseiller_opinion": "favorable",
            "referent_opinion": "favorable",
            **fields,
        }
        return self._event("renewal_decided", days, self._by_conseiller, **values)

    def exit(self, reason: str, days: int = 1, **fields: Any) -> dict[str, Any]:
        return self._event("exit_decided", days, self._by_conseiller, reason=reason, **fields)

    def appointment(self, kind: str = "emploi", days: int = 1, in_days: int = 7) -> dict[str, Any]:
        planned = at(self.day + timedelta(days=days + in_days), 14)
        return self._event(
            "appointment_planned",
            days,
            self._by_conseiller,
            appointment_id=f"{self.ref}-rdv{next(self._appointments)}",
            kind=kind,
            planned_at=planned.isoformat(),
            professional_id=self.conseiller,
        )

    def outcome(self, appointment_id: str, kind: str = "appointment_held", days: int = 7) -> dict[str, Any]:
        return self._event(kind, days, self._by_conseiller, appointment_id=appointment_id)

    def registration_ended(self, days: int = 1) -> dict[str, Any]:
        return self._event("registration_ended", days, ("systeme", "systeme"), ft_identifier=self.ft)

    def radiation(self, days: int = 1) -> dict[str, Any]:
        return self._event("radiation", days, ("systeme", "systeme"), ft_identifier=self.ft)

    def until_contract(self) -> list[dict[str, Any]]:
        return [self.orientation(), self.binome(), self.diagnostic(), self.contract()]
