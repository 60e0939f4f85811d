"""A simulated département's year (the demo's own run, smaller), then what the log answers about
it: the quarterly indicators equal the point-in-time portfolio at each quarter's end; every case
replays from its log; a forecast made at mid-year from the log alone is back-tested against
what the second half did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import Case, Email, TransitionLog
from tests.conftest import empty_tables
from workflow.application import forecast
from workflow.application.audit import replay
from workflow.application.indicators import Quarter, compute
from workflow.application.queries.point_in_time import portfolio_at
from workflow.application.service_context import Context
from workflow.bootstrap import Runtime, bootstrap
from workflow.demo.run import DemoSettings, run_demo
from workflow.domain.clock import paris_date
from workflow.domain.dates import add_months
from workflow.domain.lifecycle import UNDER_CONTRACT

pytestmark = pytest.mark.slow  # a simulated year

SETTINGS = {"departement": "67", "agences": 2, "conseillers_per_agence": 2, "months": 12, "seed": 7}
CONSEILLERS = 4


@dataclass
class Year:
    rt: Runtime
    handed: list[list[int]]  # the email ids the demo handed to its sender, call by call

    @property
    def ctx(self) -> Context:
        return self.rt.ctx

    def session(self) -> Session:
        return self.rt.sessions()


@pytest.fixture(scope="module")
def year(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    out: Path = tmp_path_factory.mktemp("year")
    handed: list[list[int]] = []
    run_demo(DemoSettings(output_dir=out, **SETTINGS), database_url, progress=False,  # type: ignore[arg-type]
             on_commit=handed.append)  # fmt: skip
    rt = bootstrap(database_url)
    yield Year(rt, handed)
    rt.engine.dispose()
    empty_tables(engine)


@pytest.mark.parametrize("quarter", ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"])
def test_the_indicators_of_a_quarter_equal_the_portfolio_at_its_end(year: Year, quarter: str) -> None:
    q = Quarter.parse(quarter)
    with year.session() as session:
        figures = compute(session, year.ctx.book, q, "67")
        folio = portfolio_at(session, year.ctx, q.end - timedelta(days=1), departement="67")
    under = {c: sum(states[s] for s in UNDER_CONTRACT) for c, states in folio.per_conseiller.items()}
    assert figures.in_progress_at_end == sum(folio.by_state[s] for s in UNDER_CONTRACT) > 0
    assert figures.load == {c: n for c, n in under.items() if n}
    assert figures.portfolio_target == folio.target


def test_every_case_of_the_year_replays_from_its_log(year: Year) -> None:
    found: list[replay.CaseFinding] = []
    with year.session() as session:
        report = replay.replay(session, year.ctx, found.append)
        cases = session.scalar(select(func.count()).select_from(Case))
        rows = session.scalar(select(func.count()).select_from(TransitionLog))
        flagged = session.scalar(select(func.count()).where(TransitionLog.trigger == "signaler_echu"))
    assert found == []
    assert (report.cases, report.rows, report.findings) == (cases, rows, 0)
    assert flagged  # the year had contracts that ran out: their flags replayed too


def test_a_forecast_from_mid_year_is_back_tested_against_the_second_half(year: Year) -> None:
    start, months = date(2026, 6, 30), 6
    with year.session() as session:
        made = forecast.forecast(session, year.ctx, "67", start, months, CONSEILLERS, search=False)
        actual_load = []
        for m in made.projection.months:
            folio = portfolio_at(
                session, year.ctx, add_months(m.first, 1) - timedelta(days=1), departement="67"
            )
            actual_load.append(sum(folio.by_state[s] for s in UNDER_CONTRACT) / CONSEILLERS)
        monthly = compute(session, year.ctx.book, Quarter(2026, 4), "67").monthly[-months:]
    actual_delay = [m["delai_moyen_entree_jours"] for m in monthly]
    load_error = _mape([m.load[1] for m in made.projection.months], actual_load)
    delay_error = _mape([m.delay[1] if m.delay else 0.0 for m in made.projection.months], actual_delay)
    print(f"back-test from {start}: load MAPE {load_error:.1%}, entry delay MAPE {delay_error:.1%}")
    print(
        "forecast load",
        [m.load for m in made.projection.months],
        "actual",
        [round(a, 1) for a in actual_load],
    )
    print("forecast delay", [m.delay for m in made.projection.months], "actual", actual_delay)
    assert load_error < 0.10
    assert delay_error < 0.15
    inside = sum(
        1 for m, a in zip(made.projection.months, actual_load, strict=True) if m.load[0] <= a <= m.load[2]
    )
    assert inside >= 1  # the band is a band: some of the real months fall in it


def test_the_smallest_number_of_conseillers_grows_with_the_inflow(year: Year) -> None:
    start = date(2026, 6, 30)
    with year.session() as session:
        usual = forecast.forecast(session, year.ctx, "67", start, 6, runs=3)
        doubled = forecast.forecast(
            session, year.ctx, "67", start, 6, inflow=2 * usual.observed.inflow_per_month, runs=3
        )
    assert usual.smallest is not None and doubled.smallest is not None
    assert usual.smallest.within(usual.terms, usual.unlimited)
    assert doubled.smallest.within(doubled.terms, doubled.unlimited)
    more, fewer_than_more = doubled.smallest.conseillers, usual.smallest.conseillers
    assert more is not None and fewer_than_more is not None  # a number, not "as many as it takes"
    assert more > fewer_than_more
    fewer = more - 1
    with year.session() as session:
        inflow = 2 * usual.observed.inflow_per_month
        short = forecast.forecast(session, year.ctx, "67", start, 6, fewer, inflow, runs=3, search=False)
    assert not short.projection.within(short.terms, short.unlimited)  # one fewer does not hold both targets
    assert Counter(r[2] for r in short.rows())  # each month has its verdict


def _mape(forecast_values: Sequence[float], actual: Sequence[float | None]) -> float:
    pairs = [(f, a) for f, a in zip(forecast_values, actual, strict=True) if a]
    return sum(abs(f - a) / a for f, a in pairs) / len(pairs)


def test_the_demo_hands_each_days_emails_to_its_sender_once_at_the_days_end(year: Year) -> None:
    """One sending per simulated day that wrote emails, in the days' order, and every email
    handed once: what a worker's next round would take."""
    with year.session() as session:
        written: dict[int, datetime] = dict(session.execute(select(Email.id, Email.created_at)).all())
    days = [{paris_date(written[i]) for i in ids} for ids in year.handed]
    assert all(len(day) == 1 for day in days)
    assert [d for (d,) in days] == sorted({paris_date(at) for at in written.values()})
    assert sorted(i for ids in year.handed for i in ids) == sorted(written)
