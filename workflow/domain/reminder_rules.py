"""When a caseworker must be reminded of a case, and who: pure functions of the case.

`schedule` gives the dated reminders a case calls for in its present state. Nothing stores that
plan: the case row keeps only the day of its next reminder (`next_due`, moved at each transition
and by the daily scan), and on that day the scan derives the plan again and writes the reminders
now due. `moved_on` is the check made on the due day, for what dates alone cannot tell (an
appointment planned or held since). Each figure comes from the case's convention terms; each
rule quotes its seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.domain.conventions import Terms
from workflow.domain.lifecycle import UNDER_CONTRACT, State
from workflow.domain.records import CaseFields
from workflow.domain.vocabulary import AppointmentKind, PersonStatus, ReminderKind

# The binôme follows up the contract (seeds 000/001 art. 3.4); before it, the conseiller convenes.
FIRST_APPOINTMENTS = frozenset({AppointmentKind.SOCIAL, AppointmentKind.EMPLOI})
MISSED = frozenset({ReminderKind.RDV_SOCIAL_MANQUE, ReminderKind.RDV_EMPLOI_MANQUE})


@dataclass(frozen=True, order=True)
class Planned:
    kind: ReminderKind
    due: date


@dataclass(frozen=True)
class Facts:
    """What the appointments of a case tell the rules."""

    appointment_planned: bool  # any appointment since the orientation
    held_since_contract: frozenset[str]  # kinds of appointments held on or after the contract start


def schedule(case: CaseFields, terms: Terms) -> dict[ReminderKind, tuple[date, ...]]:
    """The days the case calls for each kind of dated reminder in its present state."""
    if case.state == State.SORTIE:
        return {}
    if case.contract_start is None:
        return {
            # seed 003: « convocation du BRSA sous 15 jours » (experimentation in the 35)
            ReminderKind.CONVOCATION: (case.orientation_date + timedelta(terms.convocation_days),),
            # seed 004 art. 2 e: « démarrage … dans les 21 jours suivant l'orientation »;
            # seed 002: « 3 semaines »
            ReminderKind.ENTREE: (case.orientation_date + timedelta(terms.entry_target_days),),
        }
    # seed 004 art. 2 e: « premiers rendez-vous … dans le mois suivant l'intégration »
    rules: dict[ReminderKind, tuple[date, ...]] = {
        ReminderKind.RDV_NON_TENU: (case.contract_start + timedelta(terms.first_appointment_days),)
    }
    end = case.contract_end
    if case.state in UNDER_CONTRACT and end is not None:
        # Ahead of the end, default 30 and 7 days, per convention (seeds 000/001 art. 3.5, 004
        # art. 2 g); then the day after the end, with no decision.
        rules[ReminderKind.ECHEANCE] = tuple(end - timedelta(days) for days in terms.expiry_reminder_days)
        rules[ReminderKind.ECHU] = (end + timedelta(1),)
    return rules


def planned(case: CaseFields, terms: Terms) -> frozenset[Planned]:
    """Every dated reminder the case calls for now."""
    return frozenset(Planned(kind, due) for kind, dues in schedule(case, terms).items() for due in dues)


def next_due(before: frozenset[Planned], after: frozenset[Planned], previous: date | None) -> date | None:
    """The case's next reminder day once a transition changed its plan from `before` to `after`.

    `previous` was the next day before the transition: every reminder of `before` dated earlier
    has been looked at by a scan already (written, queued or cancelled), so it is not due again;
    every other one of `after` is, even if its day has passed (an event applied late), and the
    next scan writes it."""
    seen = {p for p in before if previous is None or p.due < previous}
    return min((p.due for p in after - seen), default=None)


def due_by(case: CaseFields, terms: Terms, day: date) -> tuple[list[Planned], date | None]:
    """What the scan of `day` looks at for a case: its planned reminders dated from its next
    reminder day (those before were looked at already) to `day`, and its next day after that."""
    since = case.next_reminder_on or day
    due, upcoming = [], None
    for kind, days in schedule(case, terms).items():  # no Planned made for what is not due
        for when in days:
            if when > day:
                upcoming = when if upcoming is None or when < upcoming else upcoming
            elif when >= since:
                due.append(Planned(kind, when))
    return sorted(due), upcoming


def moved_on(kind: ReminderKind, case: CaseFields, facts: Facts, day: date) -> str | None:
    """Why a reminder due by `day` is no longer needed, or None if it must go."""
    if kind == ReminderKind.CONVOCATION and facts.appointment_planned:
        return "un rendez-vous a été planifié"
    if kind == ReminderKind.RDV_NON_TENU and facts.held_since_contract >= FIRST_APPOINTMENTS:
        return "les premiers rendez-vous social et emploi ont été tenus"
    if kind == ReminderKind.ECHEANCE and case.contract_end is not None and day > case.contract_end:
        return "le contrat est terminé : le rappel de contrat échu prend le relais"
    return None


def missed_kind(appointment_kind: str) -> ReminderKind | None:
    """The reminder a missed first appointment raises (None for other kinds of appointment)."""
    return {
        AppointmentKind.SOCIAL: ReminderKind.RDV_SOCIAL_MANQUE,
        AppointmentKind.EMPLOI: ReminderKind.RDV_EMPLOI_MANQUE,
    }.get(AppointmentKind(appointment_kind))


def recipients(
    kind: ReminderKind,
    case: CaseFields,
    *,
    person_status: str | None = None,
    referents_ag: Sequence[str] = (),
) -> list[str]:
    """Professional ids to write to (the table of docs/business-rules.md), each once, in a stable order."""
    binome = [case.conseiller_id, case.referent_social_id]
    if kind in MISSED:
        # seed 004 art. 2 e: « en informer sans délai l'orienteur et, pour les BRSA, le référent
        # Accompagnement Global du Département en territoire »; the professional concerned too.
        concerned = case.referent_social_id if kind == ReminderKind.RDV_SOCIAL_MANQUE else case.conseiller_id
        brsa = list(referents_ag) if person_status == PersonStatus.BRSA else []
        return _unique([concerned, case.orienteur_id, *brsa])
    if kind == ReminderKind.CONVOCATION:
        # The conseiller convenes; before a binôme is named, the orienteur is the one to ask.
        return _unique([case.conseiller_id or case.orienteur_id])
    if kind == ReminderKind.ENTREE:
        return _unique([*binome, case.orienteur_id])
    return _unique(binome)


def _unique(ids: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
