"""Capacity forecast: the load per conseiller and the entry delay of the months to come.

Seed 000 raised Ille-et-Vilaine from 10 to 17 conseillers once portfolios had overflowed; seed
004 art. 2 e wants entries within 21 days, and seed 001 art. 3.2 portfolios of 70 to 100. This
answers before it happens. It starts from the département's open cases at a day, rebuilt from
the log (`point_in_time`), and measures what the département did over the 12 months before:
its inflow, the share of orientations reaching a contract, the delays to the contract, the share
of renewals, the chance of leaving early by month of contract (`observe`). The months to come
are then played by the demo's own simulator (`workflow.application.simulation`) with those rates, the
convention's durations and the room the conseillers have (a contract waits while every
conseiller holds the convention's maximum): several seeds give a band, not one line.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, Professional
from workflow.adapters import charts
from workflow.application.queries import point_in_time
from workflow.application.service_context import Context
from workflow.application.simulation import RENEWAL_SHARE, CaseStory, Rates, Simulator, make_directory
from workflow.domain import labels
from workflow.domain.clock import PARIS, paris_date
from workflow.domain.conventions import Terms
from workflow.domain.dates import add_months, months_since, period_end
from workflow.domain.errors import WorkflowError
from workflow.domain.lifecycle import OPEN_STATES, UNDER_CONTRACT, State
from workflow.domain.log_replay import rebuild
from workflow.domain.records import CaseFields, RebuiltCase
from workflow.domain.vocabulary import Role

DAYS_PER_MONTH = 365.25 / 12
END_DECISION_DAYS = 20  # an exit this close to the contract's end is its end, not an early exit
RUNS = 5


@dataclass(frozen=True)
class OpenCase:
    """An open case as a forecast starts from it."""

    reference: str
    state: str
    orientation_date: date
    contract_start: date | None
    renewed: bool


@dataclass(frozen=True)
class Observed:
    """What the département did over the 12 months before the forecast's start."""

    days: int  # observed (fewer than a year when the history is shorter)
    inflow_per_month: float
    contract_share: float
    entry_delays: tuple[int, ...]
    renewal_share: float
    renewals_seen: int  # first contracts that reached their end in the window (0: default share)
    exit_hazard: tuple[float, ...]


def starting_point(
    session: Session, ctx: Context, departement: str, day: date
) -> tuple[list[OpenCase], Observed]:
    """The open cases at the end of `day` and the rates of the year before, all from the log."""
    cases = select(Case.id).where(Case.convention_code == departement, Case.orientation_date <= day)
    terms = point_in_time.terms_of(session, ctx)
    rebuilt: list[RebuiltCase] = []
    for _, rows in point_in_time.by_ranges(session, cases):
        case = rebuild(rows, terms, until=day).case
        if case is not None:
            rebuilt.append(case)
    if not rebuilt:
        raise WorkflowError(
            f"aucun dossier du département {departement} au {labels.day(day)} : rien d'où partir"
        )
    open_cases = [
        OpenCase(c.reference, c.state, c.orientation_date, c.contract_start, c.renewal_count > 0)
        for c in sorted(rebuilt, key=lambda c: (c.orientation_date, c.reference))
        if c.state in OPEN_STATES
    ]
    return open_cases, observe(rebuilt, day, ctx.book.in_force(departement, day).terms)


def observe(cases: Sequence[CaseFields], day: date, terms: Terms) -> Observed:
    first = max(add_months(day, -12), min(c.orientation_date for c in cases))
    days = max((day - first).days, 1)

    def within(value: date | None) -> bool:
        return value is not None and first < value <= day

    oriented = [c for c in cases if within(c.orientation_date)]
    entered = [c for c in cases if c.contract_start is not None and first < c.contract_start <= day]
    if not entered:
        raise WorkflowError(
            f"aucun contrat signé entre le {labels.day(first)} et le {labels.day(day)} : rien d'où partir"
        )
    settled = [c for c in oriented if c.contract_start is not None or c.state == State.SORTIE]
    share = sum(1 for c in settled if c.contract_start is not None) / len(settled) if settled else 1.0
    renewal_share, renewals_seen = _renewals(cases, first, day, terms)
    return Observed(
        days=days,
        inflow_per_month=len(oriented) / (days / DAYS_PER_MONTH),
        contract_share=share,
        entry_delays=tuple(
            sorted((c.contract_start - c.orientation_date).days for c in entered if c.contract_start)
        ),
        renewal_share=renewal_share,
        renewals_seen=renewals_seen,
        exit_hazard=_hazard(cases, first, day, terms),
    )


def _renewals(cases: Sequence[CaseFields], first: date, day: date, terms: Terms) -> tuple[float, int]:
    """Of the first contracts that reached their end in the window while still running, the
    share renewed."""
    reached = renewed = 0
    for c in cases:
        if c.contract_start is None:
            continue
        end = period_end(c.contract_start, terms.first_contract_months)
        if not first < end <= day:
            continue
        if c.renewal_count > 0:
            reached, renewed = reached + 1, renewed + 1
        elif c.exit_date is None or c.exit_date >= end - timedelta(END_DECISION_DAYS):
            reached += 1
    return (renewed / reached if reached else RENEWAL_SHARE), reached


def _hazard(cases: Sequence[CaseFields], first: date, day: date, terms: Terms) -> tuple[float, ...]:
    """The monthly chance of leaving before the contract's end, by month of contract: early exits
    in the window over the months under contract in the window. A month with little exposure
    takes the rate of all months."""
    months = terms.max_total_months
    exits, exposure = [0] * months, [0.0] * months
    for c in cases:
        if c.contract_start is None or c.contract_end is None:
            continue
        last = min(c.exit_date or day, day, c.contract_end - timedelta(END_DECISION_DAYS))
        current = max(c.contract_start, first + timedelta(1))
        while current <= last:  # the days under contract in the window, month of contract by month
            month = min(months_since(c.contract_start, current), months - 1)
            bound = (
                last
                if month == months - 1
                else min(add_months(c.contract_start, month + 1) - timedelta(1), last)
            )
            exposure[month] += ((bound - current).days + 1) / DAYS_PER_MONTH
            current = bound + timedelta(1)
        if c.exit_date is not None and first < c.exit_date <= day and c.exit_date <= last:
            exits[min(months_since(c.contract_start, c.exit_date), months - 1)] += 1
    pooled = sum(exits) / sum(exposure) if sum(exposure) else 0.0
    return tuple(e / x if x >= 5 else pooled for e, x in zip(exits, exposure, strict=True))


@dataclass(frozen=True)
class Month:
    """One month to come: the load per conseiller at its end (lowest, median, highest of the
    runs) and the entry delay of the contracts signed in it (lowest run, all runs pooled,
    highest run)."""

    first: date
    load: tuple[float, float, float]
    delay: tuple[float, float, float] | None  # None: no contract signed in that month in any run

    def late(self, terms: Terms) -> bool:
        return self.delay is not None and self.delay[1] > terms.entry_target_days


@dataclass(frozen=True)
class Projection:
    conseillers: int | None  # None: as many as it takes (no limit on the contracts held)
    months: list[Month]

    def within(self, terms: Terms, unlimited: Projection) -> bool:
        """Load within the maximum every month, and the entry delay within target every month
        where room alone can hold it: a month late even with no limit on room (`unlimited`, the
        same runs) is late for want of something else than conseillers."""
        return all(
            m.load[1] <= terms.portfolio_max
            and (not m.late(terms) or (free.late(terms) and m.delay == free.delay))
            for m, free in zip(self.months, unlimited.months, strict=True)
        )


def project(
    open_cases: Sequence[OpenCase],
    observed: Observed,
    terms: Terms,
    departement: str,
    start: date,
    months: int,
    conseillers: int | None,
    inflow: float | None = None,
    runs: int = RUNS,
) -> Projection:
    """`runs` plays of the months after `start` with `conseillers` conseillers (None: no limit).
    The runs of every number use the same seeds and draw the same way, so that two numbers
    differ only by the room they leave: paired, they compare without the runs' noise."""
    following = start + timedelta(days=1)  # the month the first day after the start is in, and on
    firsts = [add_months(date(following.year, following.month, 1), k) for k in range(months)]
    plays = [
        _simulate(open_cases, observed, terms, departement, start, firsts, conseillers, inflow, seed)
        for seed in range(1, runs + 1)
    ]
    out = []
    for k, first in enumerate(firsts):
        loads = sorted(p[0][k] / (conseillers or 1) for p in plays)
        load = (round(loads[0], 1), round(statistics.median(loads), 1), round(loads[-1], 1))
        signed = [p[1][k] for p in plays if p[1][k]]
        delay = None
        if signed:
            # The central delay pools every run's contracts of the month: steadier than a median
            # of a few means, when a département's usual delay sits close to its target.
            means = sorted(sum(d) / len(d) for d in signed)
            pooled = sum(sum(d) for d in signed) / sum(len(d) for d in signed)
            delay = (round(means[0], 1), round(pooled, 1), round(means[-1], 1))
        out.append(Month(first, load, delay))
    return Projection(conseillers, out)


def _simulate(
    open_cases: Sequence[OpenCase],
    observed: Observed,
    terms: Terms,
    departement: str,
    start: date,
    firsts: Sequence[date],
    conseillers: int | None,
    inflow: float | None,
    seed: int,
) -> tuple[list[int], list[list[int]]]:
    """One run: under contract at each month's end, the entry delays of each month's contracts."""
    rates = Rates(
        arrivals_per_month=observed.inflow_per_month if inflow is None else inflow,
        contract_share=observed.contract_share,
        entry_delays=observed.entry_delays,
        renewal_share=observed.renewal_share,
        exit_hazard=observed.exit_hazard,
        capacity=None if conseillers is None else conseillers * terms.portfolio_max,
    )
    end = add_months(firsts[-1], 1)
    # One conseiller's name for every story: the load is counted for all together, and the draws
    # (which conseiller) must not depend on how many there are (`project`: paired runs).
    directory = make_directory(departement, 1, 1)
    sim = Simulator(departement, terms, directory, start, end, seed, rates)
    oriented = {c.reference: c.orientation_date for c in open_cases}
    began: dict[str, date] = {c.reference: c.contract_start for c in open_cases if c.contract_start}
    ended: dict[str, date] = {}
    now = datetime.combine(start, time(18), PARIS)
    for c in open_cases:
        story = CaseStory(sim, 0, directory.agences[0], datetime.combine(c.orientation_date, time(9), PARIS),
                          ref=c.reference)  # fmt: skip
        story.resume(c.state, c.contract_start, c.renewed, now)
    for delivery in sim.run(start + timedelta(1), first_number=10**6):
        event, day = delivery.event, paris_date(delivery.at)
        ref = event.get("case_ref")
        if ref is None:
            continue
        if event["type"] == "orientation_proposed":
            oriented.setdefault(ref, day)
        elif event["type"] == "contract_signed":
            began.setdefault(ref, day)
        elif event["type"] == "exit_decided":
            ended.setdefault(ref, day)
    under: list[int] = []
    delays: list[list[int]] = []
    for first in firsts:
        last = add_months(first, 1) - timedelta(1)
        under.append(
            sum(1 for ref, b in began.items() if b <= last and (ref not in ended or ended[ref] > last))
        )
        delays.append([(b - oriented[ref]).days for ref, b in began.items() if first <= b <= last])
    return under, delays


@dataclass(frozen=True)
class Forecast:
    departement: str
    start: date
    observed: Observed
    open_cases: int
    under_contract: int
    terms: Terms
    projection: Projection
    smallest: Projection | None  # the fewest conseillers keeping both in target (None: not searched or none)
    unlimited: Projection  # the same runs with no limit on room: the delay conseillers cannot shorten

    def late_whatever_the_room(self) -> list[date]:
        """The months whose entry delay misses its target even with no limit on room."""
        return [m.first for m in self.unlimited.months if m.late(self.terms)]

    def rows(self) -> list[list[str]]:
        terms = self.terms
        out = []
        for m in self.projection.months:
            out.append([
                labels.month(m.first), _band(m.load),
                labels.portfolio_verdict(m.load[1], terms.portfolio_min, terms.portfolio_max),
                "—" if m.delay is None else _band(m.delay),
                "" if m.delay is None else "au-delà de la cible" if m.late(terms) else "dans la cible",
            ])  # fmt: skip
        return out

    HEADER = (
        "mois", "dossiers par conseiller (médiane, fourchette)", "portefeuille",
        "délai d'entrée en jours (moyenne, fourchette)", "délai",
    )  # fmt: skip


def _band(figures: tuple[float, float, float]) -> str:
    """The central figure, then the runs' range: « 72,0 (68,2 à 75,1) »."""
    low, central, high = figures
    return f"{labels.decimal(central)} ({labels.decimal(low)} à {labels.decimal(high)})"


def active_conseillers(session: Session, departement: str) -> int:
    query = select(func.count()).select_from(Professional).where(
        Professional.role == Role.CONSEILLER, Professional.active.is_(True),
        Professional.departement == departement,
    )  # fmt: skip
    return session.scalar(query) or 0


def forecast(
    session: Session,
    ctx: Context,
    departement: str,
    start: date,
    months: int,
    conseillers: int | None = None,
    inflow: float | None = None,
    runs: int = RUNS,
    search: bool = True,
) -> Forecast:
    """The projection with `conseillers` (default: the département's active ones) and, with
    `search`, the smallest number of conseillers keeping load and entry delay within target."""
    if months < 1:
        raise WorkflowError("--months vaut au moins 1")
    terms = ctx.book.in_force(departement, start).terms
    open_cases, observed = starting_point(session, ctx, departement, start)
    count = conseillers or active_conseillers(session, departement)
    if count < 1:
        raise WorkflowError(
            f"aucun conseiller actif dans le département {departement} : donnez --conseillers"
        )
    args = (open_cases, observed, terms, departement, start, months)
    projection = project(*args, count, inflow, runs)
    unlimited = project(*args, None, inflow, runs)
    under_contract = sum(1 for c in open_cases if c.state in UNDER_CONTRACT)
    smallest = None
    if search:
        n = max(1, -(-under_contract // terms.portfolio_max))
        while n <= max(3 * count, n + 50):
            trial = projection if n == count else project(*args, n, inflow, runs)
            if trial.within(terms, unlimited):
                smallest = trial
                break
            n += 1
    return Forecast(
        departement, start, observed, len(open_cases), under_contract, terms, projection, smallest, unlimited
    )


def chart_png(result: Forecast) -> bytes:
    """Two panels: the load per conseiller against 70-100 and the entry delay against its
    target, each month's median with the band of the runs."""
    months = result.projection.months
    x = list(range(len(months)))
    names = [labels.month(m.first) for m in months]
    figure, (load, delay) = charts.panels(2, 9)
    above = charts.ABOVE
    terms = result.terms
    load.axhspan(terms.portfolio_min, terms.portfolio_max, color="green", alpha=0.15, zorder=0,
                 label=f"portefeuille cible {terms.portfolio_min}–{terms.portfolio_max}")  # fmt: skip
    load.fill_between(x, [m.load[0] for m in months], [m.load[2] for m in months], alpha=0.3, zorder=1,
                      label=f"fourchette de {RUNS} tirages")  # fmt: skip
    load.plot(x, [m.load[1] for m in months], marker="o", zorder=2, label="médiane")
    load.set_xlim(-0.5, len(x) - 0.5)
    load.set_ylim(0, max(terms.portfolio_max, *(m.load[2] for m in months)) * 1.15)
    load.set_xticks(x, names, rotation=45, ha="right")
    load.set_ylabel("dossiers sous contrat par conseiller")
    since = labels.day(result.start)
    load.set_title(f"Charge prévue avec {result.projection.conseillers or 'autant de'} conseillers "
                   f"(département {result.departement}, depuis le {since})", pad=28)  # fmt: skip
    load.legend(**above)
    shown = [(i, m.delay) for i, m in zip(x, months, strict=True) if m.delay is not None]
    delay.fill_between([i for i, _ in shown], [d[0] for _, d in shown], [d[2] for _, d in shown], alpha=0.3,
                       zorder=1, label=f"fourchette de {RUNS} tirages")  # fmt: skip
    delay.plot(
        [i for i, _ in shown], [d[1] for _, d in shown], marker="o", zorder=2, label="moyenne des tirages"
    )
    delay.axhline(terms.entry_target_days, color="red", linestyle="--", zorder=0,
                  label=f"cible {terms.entry_target_days} jours")  # fmt: skip
    delay.set_ylim(0, max([terms.entry_target_days, *(d[2] for _, d in shown)]) * 1.15)
    delay.set_xlim(-0.5, len(x) - 0.5)
    delay.set_xticks(x, names, rotation=45, ha="right")
    delay.set_ylabel("jours")
    delay.set_title("Délai prévu de l'orientation au contrat", pad=28)
    delay.legend(**above)
    return charts.png(figure)
