"""A synthetic département: professionals and the life stories of its cases, as events (the
demo's year, `workflow/demo/run.py`, and the forecast's months, `forecast.py`).

The simulator plays the partner information systems: it writes the events France Travail
and the Département would send (orientations, appointments, diagnostics, contracts,
renewals, exits), with the noise real flows carry: redelivered events, a mistyped référent
in a contract, a second renewal asked for by mistake, disagreements. Proportions are
plausible guesses, not statistics from the seeds; the durations come from the convention.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow.application.directory import COLUMNS
from workflow.domain.clock import PARIS
from workflow.domain.conventions import Terms
from workflow.domain.dates import months_since, period_end
from workflow.domain.labels import ORIGINS
from workflow.domain.vocabulary import PLATFORM_ORIGINS, PersonStatus, ProfessionalBarrier, SocialBarrier
from workflow.domain.working_days import is_working_day, next_working_day

AGENCES = {
    "67": ["Strasbourg-Nord", "Strasbourg-Sud", "Haguenau", "Sélestat", "Saverne", "Molsheim"],
    "35": ["Rennes-Est", "Rennes-Ouest", "Saint-Malo", "Fougères", "Vitré", "Redon"],
    "82": ["Montauban", "Castelsarrasin", "Moissac", "Caussade"],
}
REFERENTS_PER_CONSEILLER = 3  # a conseiller works with several social workers (seed 004 art. 3.1)
# Orientations per conseiller per month: about 127 entries a year per conseiller (the target of
# seed 001 art. 3.2) and, with the stays this simulator produces, portfolios of 70-100.
ARRIVALS_PER_CONSEILLER_MONTH = 15.0

STATUS_WEIGHTS = {
    PersonStatus.BRSA: 55,
    PersonStatus.ARE: 20,
    PersonStatus.ASS: 10,
    PersonStatus.BOE: 5,
    PersonStatus.AUTRE: 10,
}
# Monthly chance of each exit while under contract.
MONTHLY_EXITS = {
    "emploi": 0.025, "formation": 0.014, "autonomie": 0.007, "probleme_social_resolu": 0.004,
    "fin_explicite": 0.004, "reorientation_sociale": 0.004, "autre_reorientation": 0.002,
    "registration_ended": 0.003, "radiation": 0.0015,
}  # fmt: skip
END_OF_CONTRACT_EXITS = {"autonomie": 40, "emploi": 30, "formation": 15, "fin_explicite": 15}
RENEWAL_SHARE = 0.7


@dataclass(frozen=True)
class Rates:
    """The chances the stories draw. The demo keeps the defaults, plausible guesses; a forecast
    (`workflow.application.forecast`) sets them from what a département did over its last year.

    With `entry_delays` set, a story reaches its contract (with the chance `contract_share`) a
    delay drawn from those after its orientation, and no earlier than a conseiller has room:
    `capacity` people under contract at once, all conseillers together.
    """

    arrivals_per_month: float | None = None  # all agences; None: ARRIVALS_PER_CONSEILLER_MONTH each
    contract_share: float = 1.0
    entry_delays: tuple[int, ...] | None = None  # days from orientation to contract
    renewal_share: float = RENEWAL_SHARE
    exit_hazard: tuple[float, ...] | None = None  # monthly chance of an early exit, by month of contract
    capacity: int | None = None


@dataclass(frozen=True)
class Directory:
    departement: str
    agences: list[str]
    conseillers: dict[str, list[str]]  # agence -> ids
    referents: dict[str, list[str]]
    orienteurs: dict[str, str]  # origin -> id (per département)

    def csv(self) -> str:
        """The directory in the format `accompagnement professionals import` reads."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        d = self.departement
        for agence in self.agences:
            for pid in self.conseillers[agence]:
                email = f"{pid.lower()}@francetravail.example"
                writer.writerow([pid, "conseiller", f"Conseiller {pid}", email, d, agence, "", "true"])
            for pid in self.referents[agence]:
                email = f"{pid.lower()}@departement.example"
                writer.writerow([pid, "referent_social", f"Référent {pid}", email, d, "", agence, "true"])
        for origin, pid in self.orienteurs.items():
            email = f"{pid.lower()}@orientation.example"
            writer.writerow([pid, "orienteur", f"Orienteur {ORIGINS[origin]}", email, d, "", "", "true"])
        writer.writerow([self.superviseur, "superviseur", "Superviseure de démonstration",
                         f"{self.superviseur.lower()}@departement.example", d, "", "", "true"])  # fmt: skip
        return buffer.getvalue()

    @property
    def superviseur(self) -> str:
        """Who opens the demo's console at once: the département's superviseur."""
        return f"SUP{self.departement}"


def make_directory(departement: str, agences: int, conseillers_per_agence: int) -> Directory:
    names = AGENCES.get(departement, [f"Agence-{i}" for i in range(1, 10)])
    if agences > len(names):
        names = names + [f"Agence-{i}" for i in range(len(names) + 1, agences + 1)]
    chosen = names[:agences]
    conseillers, referents = {}, {}
    for a, agence in enumerate(chosen, start=1):
        conseillers[agence] = [f"C{departement}-{a}{k}" for k in range(1, conseillers_per_agence + 1)]
        count = conseillers_per_agence * REFERENTS_PER_CONSEILLER
        referents[agence] = [f"R{departement}-{a}{k:02d}" for k in range(1, count + 1)]
    origins = ["france_travail", "departement"] + (["pf1", "pf2"] if departement == "67" else [])
    orienteurs = {o: f"O{departement}-{o.upper().replace('_', '')}" for o in origins}
    return Directory(departement, chosen, conseillers, referents, orienteurs)


@dataclass(order=True)
class Delivery:
    """An event and when the partner system delivers it (a redelivery comes later)."""

    at: datetime
    order: int
    event: dict[str, Any] = field(compare=False)


class CaseStory:
    """Writes the events of one case, from orientation to exit or to the end of the run."""

    def __init__(
        self, sim: Simulator, number: int, agence: str, oriented: datetime, ref: str | None = None
    ) -> None:
        self.sim, self.rng = sim, sim.rng
        self.ref = ref or f"AG-{sim.departement}-{number:06d}"
        self.oriented = oriented
        self.checked: date | None = None  # the last day an early exit was drawn (forecasts)
        self.ft = f"{sim.departement}{number:07d}X"
        self.agence = agence
        self.t = oriented
        self.seq = 0
        self.rdv = 0
        self.conseiller = self.rng.choice(sim.directory.conseillers[agence])
        self.referent = self.rng.choice(sim.directory.referents[agence])
        self.status = self.rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]

    # -- writing events ------------------------------------------------------------------

    def emit(self, event_type: str, actor: tuple[str, str], **fields: Any) -> dict[str, Any] | None:
        if self.t >= self.sim.end:
            return None
        self.seq += 1
        event = {
            "event_id": f"{self.ref}-{self.seq:03d}",
            "type": event_type,
            "occurred_at": self.t.isoformat(),
            "actor": {"id": actor[0], "role": actor[1]},
            **fields,
        }
        if event_type not in ("registration_ended", "radiation"):
            event["case_ref"] = self.ref
        self.sim.deliver(event, self.t)
        if self.rng.random() < 0.02:  # at-least-once delivery: the same event again, later
            self.sim.deliver(event, self.t + timedelta(hours=self.rng.randint(1, 72)))
        return event

    def wait(self, low: int, high: int) -> None:
        """Move to a working-hours instant `low`..`high` days later, on a working day of the
        département (no weekend, no public holiday: people act on the days they work)."""
        day = self.sim.working_day((self.t + timedelta(days=self.rng.randint(low, high))).date())
        self.t = datetime.combine(day, time(self.rng.randint(9, 16), self.rng.choice((0, 15, 30, 45))), PARIS)

    @property
    def by_conseiller(self) -> tuple[str, str]:
        return (self.conseiller, "conseiller")

    @property
    def by_referent(self) -> tuple[str, str]:
        return (self.referent, "referent_social")

    def appointment(self, kind: str, actor: tuple[str, str], in_days: int) -> str:
        """Plan an appointment and report its outcome on the day; return the outcome."""
        self.rdv += 1
        rdv_id = f"{self.ref}-R{self.rdv:02d}"
        later = self.t + timedelta(days=in_days)
        planned = datetime.combine(self.sim.working_day(later.date()), later.timetz())
        self.emit("appointment_planned", actor, appointment_id=rdv_id, kind=kind,
                  planned_at=planned.isoformat(), professional_id=actor[0])  # fmt: skip
        self.t = planned
        outcome = self.rng.choices(
            ("appointment_held", "appointment_missed", "appointment_excused"), (85, 10, 5)
        )[0]
        self.emit(outcome, actor, appointment_id=rdv_id)
        return outcome

    def exit(self, reason: str, **fields: Any) -> None:
        self.emit("exit_decided", self.by_conseiller, reason=reason, **fields)

    # -- the story -------------------------------------------------------------------------

    def play(self) -> None:
        if self.sim.rates.entry_delays is not None:
            self.emit("orientation_proposed", (self.sim.directory.orienteurs["france_travail"], "orienteur"))
            self.projected_entry()
            return
        if not self.orientation():
            return
        if not self.diagnostic():
            return
        self.accompaniment()

    def projected_entry(self) -> None:
        """A forecast's way to the contract: the département's own delays and share of entries,
        and a conseiller with room (`Rates`). What happens under contract is `accompaniment`."""
        rates = self.sim.rates
        assert rates.entry_delays is not None
        elapsed = (self.t - self.oriented).days
        later = [d for d in rates.entry_delays if d > elapsed]
        delay = self.rng.choice(later) if later else elapsed + self.rng.randint(1, 7)
        self.t = datetime.combine(
            self.sim.working_day((self.oriented + timedelta(days=delay)).date()), time(10), PARIS
        )
        if self.rng.random() >= rates.contract_share:
            self.exit("sans_entree_desaccord")
            return
        self.t = datetime.combine(self.sim.room_from(self.t.date()), time(10), PARIS)
        self.emit("contract_signed", self.by_conseiller, referent_social_id=self.referent)
        self.start = self.t.date()
        self.accompaniment()
        self.sim.occupy(self.start, self.t.date())

    def resume(self, state: str, contract_start: date | None, renewed: bool, now: datetime) -> None:
        """Go on from a real case's state at `now` (a forecast starts from the open cases)."""
        self.t, self.checked = now, now.date()
        if contract_start is None:
            self.projected_entry()
            return
        self.start = contract_start
        self.accompaniment(renewed=renewed)
        self.sim.occupy(self.start, self.t.date())

    def orientation(self) -> bool:
        sim, rng = self.sim, self.rng
        origins = list(sim.directory.orienteurs)
        origin = rng.choices(origins, weights=[40, 35, 15, 10][: len(origins)])[0]
        social = rng.sample(list(SocialBarrier)[:6], rng.randint(1, 3))
        if rng.random() < 0.04:
            social = []  # spotted with professional barriers only: not eligible
        professional = rng.sample(list(ProfessionalBarrier)[:5], rng.randint(1, 2))
        consent = rng.random() < 0.93
        self.origin = origin
        person = {
            "ft_identifier": self.ft,
            "status": str(self.status),
            "registered": True,
            "departement": sim.departement,
            "agence": self.agence,
        }
        barriers = {"social": [str(b) for b in social], "professional": [str(b) for b in professional]}
        orienteur = (sim.directory.orienteurs[origin], "orienteur")
        self.emit(
            "orientation_proposed",
            orienteur,
            person=person,
            origin=origin,
            barriers=barriers,
            consent=consent,
        )
        self.eligible = bool(social)
        self.wait(1, 4)
        self.emit(
            "binome_assigned",
            self.by_conseiller,
            conseiller_id=self.conseiller,
            referent_social_id=self.referent,
        )
        if not consent:
            self.wait(3, 12)
            if rng.random() < 0.5:
                self.emit("consent_recorded", self.by_conseiller, consent=True)
            else:
                self.exit("sans_entree_refus")
                return False
        return True

    def diagnostic(self) -> bool:
        rng, terms = self.rng, self.sim.terms
        self.wait(1, 4)
        misses = 0
        while self.appointment("diagnostic", self.by_conseiller, rng.randint(4, 9)) != "appointment_held":
            misses += 1
            if misses == 2:
                self.wait(5, 15)
                self.exit("sans_entree_jamais_venu")
                return False
            self.wait(1, 3)
        platform = self.origin in PLATFORM_ORIGINS
        confiance = terms.confiance_reciproque and (platform or rng.random() < 0.3)
        disagree = rng.random() < 0.06
        opinions = {"conseiller_opinion": "favorable", "referent_opinion": "favorable"}
        if confiance:
            opinions = {"conseiller_opinion": "favorable"}
        if disagree:
            opinions = {"conseiller_opinion": "favorable", "referent_opinion": "defavorable"}
        kind = "confiance_reciproque" if confiance and not disagree else "partage"
        self.emit("diagnostic_done", self.by_conseiller, kind=kind, **opinions)
        if disagree or not self.eligible:
            self.wait(10, 30)  # debated at the next monthly revue (seed 004 art. 2 e)
            self.exit("sans_entree_desaccord" if disagree else "autre_reorientation")
            return False
        self.wait(2, 8)
        if rng.random() < 0.01:  # a contract that names the wrong social worker, corrected next day
            others = [r for r in self.sim.directory.referents[self.agence] if r != self.referent]
            self.emit("contract_signed", self.by_conseiller, referent_social_id=rng.choice(others))
            self.wait(1, 2)
        self.emit("contract_signed", self.by_conseiller, referent_social_id=self.referent)
        self.start = self.t.date()
        return True

    def accompaniment(self, renewed: bool = False) -> None:
        rng, terms = self.rng, self.sim.terms
        months = terms.first_contract_months + (terms.renewal_months if renewed else 0)
        end = period_end(self.start, months)
        limit = period_end(self.start, terms.max_total_months)
        missed_in_a_row = 0
        kinds = (("social", self.by_referent), ("emploi", self.by_conseiller))
        month = 0
        while True:
            kind, actor = kinds[month % 2]
            month += 1
            self.wait(3, 10)
            outcome = self.appointment(kind, actor, rng.randint(7, 20))
            missed_in_a_row = missed_in_a_row + 1 if outcome == "appointment_missed" else 0
            if self.t >= self.sim.end:
                return
            # « ne se présentant pas aux rendez-vous » (seeds 000/001 art. 3.5); an observed
            # chance of early exit (forecasts) counts these already.
            if missed_in_a_row == 2 and self.sim.rates.exit_hazard is None:
                self.wait(5, 15)
                self.exit("fin_implicite")
                return
            if self.t.date() >= end - timedelta(days=20):
                if not renewed and rng.random() < self.sim.rates.renewal_share and end < limit:
                    self.renew()
                    renewed = True
                    end = period_end(self.start, terms.first_contract_months + terms.renewal_months)
                    continue
                self.t = datetime.combine(self.sim.working_day(end + timedelta(days=1)), time(10), PARIS)
                if end >= limit:
                    self.exit("duree_maximale")
                else:
                    self.exit(
                        rng.choices(list(END_OF_CONTRACT_EXITS), list(END_OF_CONTRACT_EXITS.values()))[0]
                    )
                return
            if self.early_exit():
                return

    def renew(self) -> None:
        fields: dict[str, Any] = {"decided_by": "commission"}
        if self.rng.random() >= 0.2:  # most renewals are agreed by the binôme itself
            fields = {
                "decided_by": "binome",
                "conseiller_opinion": "favorable",
                "referent_opinion": "favorable",
            }
        self.emit("renewal_decided", self.by_conseiller, **fields)
        if self.rng.random() < 0.02:  # asked twice by mistake: refused, one renewal only
            self.wait(1, 5)
            self.emit("renewal_decided", self.by_conseiller, **fields)

    def early_exit(self) -> bool:
        """Leave before the contract's end: the demo's monthly chances of each exit, or the
        forecast's observed chance for the month of contract reached."""
        hazard = self.sim.rates.exit_hazard
        if hazard is None:
            return self.monthly_exit()
        since, self.checked = self.checked or self.start, self.t.date()
        month = min(months_since(self.start, self.t.date()), len(hazard) - 1)
        chance = 1 - (1 - hazard[month]) ** ((self.t.date() - since).days / (365.25 / 12))
        if self.rng.random() >= chance:
            return False
        self.wait(1, 10)
        self.exit("emploi")
        return True

    def monthly_exit(self) -> bool:
        for reason, chance in MONTHLY_EXITS.items():
            if self.rng.random() >= chance:
                continue
            if reason == "reorientation_sociale" and self.status != PersonStatus.BRSA:
                continue
            self.wait(1, 10)
            if reason in ("registration_ended", "radiation"):
                self.emit(reason, ("systeme", "systeme"), ft_identifier=self.ft)
            elif reason == "reorientation_sociale":
                self.exit(reason, ep_validated=self.sim.terms.social_reorientation_needs_ep)
            else:
                self.exit(reason)
            return True
        return False


class Simulator:
    def __init__(
        self,
        departement: str,
        terms: Terms,
        directory: Directory,
        start: date,
        end: date,
        seed: int,
        rates: Rates | None = None,
    ) -> None:
        self.departement = departement
        self.terms = terms
        self.directory = directory
        self.start = datetime.combine(start, time(0), PARIS)
        self.end = datetime.combine(end, time(0), PARIS)
        self.rng = random.Random(seed)
        self.rates = rates or Rates()
        self._deliveries: list[Delivery] = []
        self._order = 0
        # People under contract each day from `start`, for `Rates.capacity`.
        self._occupied = [0] * ((end - start).days + 1)

    def working_day(self, day: date) -> date:
        return next_working_day(day, self.departement)

    def occupy(self, first: date, last: date) -> None:
        """A contract runs from `first` to `last` (excluded): its place is taken those days."""
        base = self.start.date()
        for i in range(max(0, (first - base).days), min(len(self._occupied), (last - base).days)):
            self._occupied[i] += 1

    def room_from(self, day: date) -> date:
        """The first working day from `day` when the conseillers have room for one more contract."""
        capacity, base = self.rates.capacity, self.start.date()
        while capacity is not None and 0 <= (day - base).days < len(self._occupied):
            if self._occupied[(day - base).days] < capacity:
                break
            day += timedelta(days=1)
        return self.working_day(day)

    def deliver(self, event: dict[str, Any], at: datetime) -> None:
        if at < self.end:
            self._order += 1
            self._deliveries.append(Delivery(at, self._order, event))

    def run(self, warm_up_from: date, first_number: int = 0) -> list[Delivery]:
        """Orient cases from `warm_up_from` (so portfolios are full on day one) to the end."""
        number = first_number
        day = warm_up_from
        per_day = ARRIVALS_PER_CONSEILLER_MONTH * 12 / 365
        if self.rates.arrivals_per_month is not None:  # the département's inflow, spread on its agences
            seats = sum(len(self.directory.conseillers[a]) for a in self.directory.agences)
            per_day = self.rates.arrivals_per_month * 12 / 365 / seats
        while day < self.end.date():
            if is_working_day(day, self.departement):
                for agence in self.directory.agences:
                    mean = per_day * 7 / 5 * len(self.directory.conseillers[agence])
                    for _ in range(_poisson(self.rng, mean)):
                        number += 1
                        hour = time(self.rng.randint(9, 16), self.rng.choice((0, 30)))
                        CaseStory(self, number, agence, datetime.combine(day, hour, PARIS)).play()
            day += timedelta(days=1)
        return sorted(self._deliveries)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of daily arrivals."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def by_day(deliveries: list[Delivery]) -> Iterator[tuple[date, list[Delivery]]]:
    current: date | None = None
    batch: list[Delivery] = []
    for d in deliveries:
        day = d.at.astimezone(PARIS).date()
        if current is not None and day != current:
            yield current, batch
            batch = []
        current = day
        batch.append(d)
    if current is not None:
        yield current, batch
