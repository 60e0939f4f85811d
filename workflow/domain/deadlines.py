"""Deadlines of one case, as pure functions of the case and its convention's terms.

The reminders build on these; `case show` and the console print them, in French. Each
deadline quotes its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workflow.domain.conventions import Terms
from workflow.domain.dates import period_end
from workflow.domain.lifecycle import BEFORE_CONTRACT, UNDER_CONTRACT, State
from workflow.domain.records import CaseFields


@dataclass(frozen=True)
class Deadline:
    name: str
    due: date
    met: bool  # the thing it waits for has happened
    source: str
    code: str  # what it is, in ASCII: the stable part of a calendar event's UID

    def status(self, today: date) -> str:
        """Said as a caseworker says it: « tenue », « aujourd'hui », « dans 12 jours »,
        « dépassée de 2 jours »."""
        if self.met:
            return "tenue"
        days = (self.due - today).days
        if days < 0:
            return f"dépassée de {_days(-days)}"
        return "aujourd'hui" if days == 0 else f"dans {_days(days)}"


def _days(count: int) -> str:
    return f"{count} jour" if count == 1 else f"{count} jours"


def maximum_end(case: CaseFields, terms: Terms) -> date | None:
    """Last day the accompaniment may last, renewal included."""
    if case.contract_start is None:
        return None
    return period_end(case.contract_start, terms.max_total_months)


def can_still_renew(case: CaseFields, terms: Terms) -> bool:
    if case.state not in UNDER_CONTRACT or case.contract_start is None or case.contract_end is None:
        return False
    return case.renewal_count < terms.max_renewals and case.contract_end < (
        maximum_end(case, terms) or case.contract_end
    )


def case_deadlines(
    case: CaseFields, terms: Terms, first_appointment_planned: bool, follow_up_planned: bool
) -> list[Deadline]:
    """`first_appointment_planned`: any appointment planned since the orientation;
    `follow_up_planned`: a social and an emploi appointment planned since the contract."""
    deadlines: list[Deadline] = []
    if case.state == State.SORTIE:
        return deadlines
    entered = case.contract_start is not None
    if case.state in BEFORE_CONTRACT or entered:
        deadlines.append(
            Deadline(
                "convocation (premier rendez-vous fixé)",
                case.orientation_date + timedelta(days=terms.convocation_days),
                first_appointment_planned,
                "seed 003: convocation sous 15 jours",
                "convocation",
            )
        )
        deadlines.append(
            Deadline(
                "entrée (contrat signé)",
                case.orientation_date + timedelta(days=terms.entry_target_days),
                entered,
                "seed 004 art. 2 e: démarrage dans les 21 jours; seed 002: 3 semaines",
                "entree",
            )
        )
    if entered and case.contract_start is not None:
        deadlines.append(
            Deadline(
                "premiers rendez-vous social et emploi",
                case.contract_start + timedelta(days=terms.first_appointment_days),
                follow_up_planned,
                "seed 004 art. 2 e: premiers rendez-vous dans le mois suivant l'intégration",
                "premiers-rendez-vous",
            )
        )
    if entered and case.contract_end is not None:
        deadlines.append(
            Deadline(
                "fin du contrat",
                case.contract_end,
                False,
                "seeds 000/001 art. 3.5; seed 004 art. 2 g",
                "fin-du-contrat",
            )
        )
        end = maximum_end(case, terms)
        assert end is not None
        deadlines.append(
            Deadline("durée maximale", end, False, "seed 004 art. 2 g: un an au plus", "duree-maximale")
        )
    return deadlines


@dataclass(frozen=True)
class CaseDeadline:
    """A deadline and the case it is of: a line of a caseworker's calendar feed."""

    case_reference: str
    deadline: Deadline
