"""`accompagnement demo`: a synthetic département lives a year through the real ingestion path.

The demo writes its own SQLite database (default `demo-output/demo.db`, made anew each run),
the professionals' CSV and the events' JSON Lines file, then ingests the events day by day
with the clock set to that day, exactly as `events ingest` would, and reports what happened.
Every simulated morning the daily reminder scan runs, as the scheduler would; the emails the
day's commits wrote are handed to `on_commit` at the day's end (the CLI sends them in-process,
as `.eml` files in the output folder's `outbox/`).
"""

from __future__ import annotations

import io
import json
import time as timer
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from workflow.adapters import revue_files
from workflow.application import directory
from workflow.application.audit import chain
from workflow.application.indicators import Indicators, Quarter, compute, write_files
from workflow.application.ingest import IngestReport, ingest_lines
from workflow.application.queries import year_summary
from workflow.application.reminders import daily_scan
from workflow.application.revue import acting
from workflow.application.revue import production as revue
from workflow.application.revue.production import due_revues
from workflow.application.simulation import Delivery, Simulator, by_day, make_directory
from workflow.bootstrap import Runtime, bootstrap, start_empty
from workflow.domain import labels
from workflow.domain.clock import PARIS, ManualClock
from workflow.domain.dates import add_months


@dataclass(frozen=True)
class DemoSettings:
    departement: str = "67"
    agences: int = 3
    conseillers_per_agence: int = 2
    start: date = date(2026, 1, 1)
    months: int = 12
    seed: int = 2026
    output_dir: Path = Path("demo-output")


def demo_database_url(settings: DemoSettings) -> str:
    """The demo's own SQLite file, made anew at each run."""
    return f"sqlite:///{settings.output_dir / 'demo.db'}"


# Sets a professional's console password in the demo's database (the console's own hashing).
SetPassword = Callable[[Runtime, str, str, datetime], None]


@dataclass(frozen=True)
class Explore:
    """How the hints at the end are printed: the command as the user typed it, and the
    superviseur's console password the caller set (the demo itself knows no password hashing)."""

    command: str = "accompagnement"
    console: str | None = None  # e.g. http://localhost:8000
    password: str | None = None
    set_password: SetPassword | None = None  # the console's, given by the composition root


def run_demo(
    settings: DemoSettings,
    database_url: str | None,
    progress: bool = True,
    on_commit: Callable[[list[int]], None] | None = None,
    explore: Explore = Explore(),
) -> int:
    out = settings.output_dir
    out.mkdir(parents=True, exist_ok=True)
    url = database_url or demo_database_url(settings)
    phases = Phases()
    start_empty(url, out / "demo.db")

    outbox = DayOutbox(on_commit, phases)
    clock = ManualClock(datetime.combine(settings.start, datetime.min.time(), PARIS))
    rt = bootstrap(url, clock=clock, on_commit=outbox.add, check_schema=False)
    rt.upgrade()

    book = rt.book
    conv = book.in_force(settings.departement, settings.start)
    end = add_months(settings.start, settings.months)
    warm_up = add_months(settings.start, -conv.terms.max_total_months)
    clock.set(datetime.combine(warm_up, datetime.min.time(), PARIS))
    staff = make_directory(settings.departement, settings.agences, settings.conseillers_per_agence)
    (out / "professionals.csv").write_text(staff.csv(), encoding="utf-8")
    directory.import_file(rt.uow(), io.StringIO(staff.csv()), "professionals.csv")
    if explore.set_password and explore.password:
        at = datetime.combine(warm_up, time(8), PARIS)  # set before the simulated year
        explore.set_password(rt, staff.superviseur, explore.password, at)

    deliveries = Simulator(settings.departement, conv.terms, staff, settings.start, end, settings.seed).run(
        warm_up
    )
    (out / "events.jsonl").write_text(
        "".join(json.dumps(d.event, ensure_ascii=False) + "\n" for d in deliveries), encoding="utf-8"
    )

    print(
        f"Convention {conv.code}/{conv.version} ({conv.name}) : {len(staff.agences)} agence(s), "
        f"{sum(len(c) for c in staff.conseillers.values())} conseillers dédiés ; dossiers orientés "
        f"depuis le {labels.day(warm_up)} pour que les portefeuilles soient pleins le "
        f"{labels.day(settings.start)} ; {len(deliveries)} événements à intégrer"
    )
    phases.preparation = timer.perf_counter() - phases.started
    total = _live_the_year(rt, deliveries, (warm_up, settings.start, end), out, progress, outbox)

    summing = timer.perf_counter()
    with rt.sessions() as session:
        figures = year_summary.year_figures(session, settings.start, end)
        verified = chain.verify_chains(session)
        rejected_by_rule = year_summary.rejections_by_rule(session)
        example = year_summary.renewed_case(session)
    _print_summary(settings, conv.terms.entry_target_days, conv.terms.portfolio_min, conv.terms.portfolio_max,
                   figures, total, phases, verified, rejected_by_rule)  # fmt: skip
    (out / "summary.json").write_text(
        json.dumps(figures, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    quarters = _write_indicators(rt, settings, end, out / "indicateurs")
    with rt.sessions() as session:
        revues, acted = year_summary.revues_held(session)
    phases.figures = timer.perf_counter() - summing
    print(f"Revues de portefeuille : {revues} (XLSX et CSV dans {out}/revues/, envoyées dans {out}/outbox/), "
          f"{acted} entrées et sorties actées par leur secrétariat")  # fmt: skip
    for q in quarters:
        exits = sum(q.exits.values())
        delay = "—" if q.average_entry_delay_days is None else labels.decimal(q.average_entry_delay_days)
        print(f"    {Quarter.parse(q.quarter).label} : {q.entries} entrées, {exits} sorties, "
              f"{q.in_progress_at_end} en cours à la fin, délai d'entrée moyen {delay} jours")  # fmt: skip
    print(f"\nFichiers dans {out}/ : events.jsonl (le contrat d'intégration), professionals.csv, "
          "summary.json, revues/, indicateurs/ (CSV et PNG par trimestre), outbox/")  # fmt: skip
    print(phases.line(sum(figures["emails_by_status"].values())))
    rt.engine.dispose()
    _print_explore(explore, url, example, staff.superviseur, (settings.departement, settings.start, end))
    return 0 if verified.ok else 1


def _print_explore(
    explore: Explore, url: str, example: Any, superviseur: str, year: tuple[str, date, date]
) -> None:
    """Commands that run as printed, from where the demo was started: a renewed case now and the
    day before its renewal, the portfolio at mid-year, the audit checks, a forecast from the
    year's end."""
    run = f"{explore.command} --database-url {url}"
    departement, start, end = year
    reference, renewed = example if example is not None else (None, None)
    print(f"\nExplorer : {run} case show {reference}")
    if renewed is not None:
        print(f"           {run} case show {reference} --at {labels.day(renewed - timedelta(1))}")
    print(
        f"           {run} portfolio --departement {departement} --at {labels.day(start + (end - start) / 2)}"
    )
    print(f"           {run} audit verify")
    print(f"           {run} audit replay")
    print(f"           {run} forecast --departement {departement} --since {labels.day(end - timedelta(1))}")
    if explore.console and explore.password:
        secret = "ACCOMPAGNEMENT_WEB_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        print(f"Console :  {secret} {run} web serve")
        sign_in = f"se connecter comme {superviseur}, mot de passe « {explore.password} »"
        print(f"           puis ouvrir {explore.console}/ et {sign_in}")


def _write_indicators(rt: Runtime, settings: DemoSettings, end: date, folder: Path) -> list[Indicators]:
    """The quarterly indicators of every quarter of the simulated year: CSV and chart."""
    quarters, quarter = [], Quarter.of(settings.start)
    with rt.sessions() as session:
        while quarter.start < end:
            figures = compute(session, rt.book, quarter, settings.departement)
            write_files(figures, folder)
            quarters.append(figures)
            quarter = Quarter.of(quarter.end)
    return quarters


@dataclass
class Phases:
    """Where the demo's time went, each phase without the others: the events/s figure divides
    the events by the time spent applying them, not by a loop that also scans, holds revues and
    writes emails. The phases add up to the whole run (`rest`: the printing, the files' list)."""

    preparation: float = 0.0  # the database, the directory, the simulated events and their file
    ingestion: float = 0.0
    scans: float = 0.0
    revues: float = 0.0
    emails: float = 0.0  # writing the outbox's emails (here, .eml files), whichever phase caused them
    figures: float = 0.0  # the year's figures, the audit chains verified, the quarters' indicators
    started: float = field(default_factory=timer.perf_counter)

    @property
    def total(self) -> float:
        return timer.perf_counter() - self.started

    def line(self, emails: int) -> str:
        """« Durées : … » in the order the run goes, then the whole."""
        parts = {
            "préparation": self.preparation,
            "intégration": self.ingestion,
            "scans du matin": self.scans,
            "revues": self.revues,
            f"{emails} emails écrits": self.emails,
            "bilan et indicateurs": self.figures,
        }
        total = self.total
        parts["le reste"] = max(0.0, total - sum(parts.values()))
        spent = ", ".join(f"{name} {labels.decimal(seconds)} s" for name, seconds in parts.items())
        return f"Durées : {spent} ; {labels.decimal(total)} s en tout"


@dataclass
class DayOutbox:
    """The emails committed during a simulated day, handed to the caller's hook at the day's
    end, as a worker would take them in its next round: one sending for the day's emails
    rather than one per commit, each sending paying a claim and a record of the outcome, two
    transactions, however few emails it carries. The hook's time is the phase `emails`."""

    on_commit: Callable[[list[int]], None] | None
    phases: Phases
    waiting: list[int] = field(default_factory=list)

    def add(self, email_ids: list[int]) -> None:
        self.waiting.extend(email_ids)

    def send(self) -> None:
        started = timer.perf_counter()
        waiting, self.waiting = self.waiting, []
        if waiting and self.on_commit is not None:
            self.on_commit(waiting)
        self.phases.emails += timer.perf_counter() - started


def _live_the_year(
    rt: Runtime,
    deliveries: list[Delivery],
    days: tuple[date, date, date],
    out: Path,
    progress: bool,
    outbox: DayOutbox,
) -> IngestReport:
    """Day after day from the warm-up: the morning reminder scan, from the simulated year on the
    revues of the agencies whose revue day it is, then the day's events, the clock set to each;
    the day's emails are sent at its end."""
    first, start, end = days
    phases = outbox.phases
    clock, ctx = rt.clock, rt.ctx
    assert isinstance(clock, ManualClock)
    total = IngestReport()

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        started = timer.perf_counter()
        yield
        setattr(phases, name, getattr(phases, name) + timer.perf_counter() - started)

    bar = tqdm(total=len(deliveries), unit="event", disable=not progress, dynamic_ncols=True)
    batches = dict(by_day(deliveries))
    day = first
    while day < end:
        clock.set(datetime.combine(day, time(6), PARIS))  # the scheduler's morning scan
        with phase("scans"):
            daily_scan.scan(rt.uow(), ctx, day)
        if day >= start:
            clock.set(datetime.combine(day, time(8), PARIS))  # the scheduler's revues
            with phase("revues"):
                with rt.sessions() as session:
                    due = due_revues(session, ctx.book, clock.now())
                for agence, month in due:
                    made = revue.produce(rt.uow(), ctx, agence, month, by="demo")
                    if made is None:
                        continue
                    revue_files.write(made, out / "revues")
                    # The revue over, its secretariat records the formality (seed 004 art. 5.2 a):
                    # a professional of the agency's cases in the role whose turn it is.
                    with rt.sessions() as session:
                        secretary = acting.secretary_of(session, made)
                    if secretary is not None:
                        formality = acting.formality(made, secretary)
                        acting.apply(rt.uow(), ctx, made.id, formality)
        batch = batches.get(day, [])
        if batch:
            clock.set(datetime.combine(day, datetime.max.time(), PARIS) - timedelta(hours=3))
            bar.set_description(day.strftime("%Y-%m"), refresh=False)  # one frame per update, not two
            lines = [json.dumps(d.event, ensure_ascii=False) for d in batch]
            where = f"events.jsonl@{day.isoformat()}"
            with phase("ingestion"):
                total.merge(ingest_lines(rt.uow(), ctx, lines, where))
            bar.update(len(batch))
        outbox.send()
        day += timedelta(1)
    bar.close()
    return total


def _print_summary(
    settings: DemoSettings,
    target_days: int,
    portfolio_min: int,
    portfolio_max: int,
    f: dict[str, Any],
    report: IngestReport,
    phases: Phases,
    verified: chain.VerifyReport,
    rejected_by_rule: Counter[str],
) -> None:
    start, end = (labels.day(d) for d in f["period"].split(" .. "))
    print(f"\n=== Année simulée du {start} au {end} — département {settings.departement} ===")
    print(f"Orientations     {f['orientations']}")
    delay = labels.decimal(f["average_entry_delay_days"])
    within = f"{f['entries_within_target']} en {target_days} jours au plus" if f["entries"] else ""
    print(f"Entrées          {f['entries']}  (délai moyen orientation → contrat {delay} jours ; {within})")
    print(f"Renouvellements  {f['renewals']}")
    print(f"Sorties          {f['exits']}")
    for reason, n in f["exits_by_reason"].items():
        print(f"    {labels.word(labels.EXIT_REASONS, reason):44} {n:5}")
    print(
        "Ouverts à la fin "
        + ", ".join(f"{labels.word(labels.STATES, s)} {n}" for s, n in f["open_at_end"].items())
    )
    loads = f["portfolio_by_conseiller"]
    print(f"Portefeuilles sous contrat (cible {portfolio_min} à {portfolio_max}) :")
    for conseiller, n in loads.items():
        mark = "" if portfolio_min <= n <= portfolio_max else "  ← hors de la cible"
        print(f"    {conseiller:44} {n:5}{mark}")
    print("Rappels envoyés (dus dans l'année), par sorte ; annulés le jour venu (plus nécessaires) :")
    sent, cancelled = f["reminders_by_kind"], f["reminders_cancelled_by_kind"]
    for kind in sorted(set(sent) | set(cancelled)):
        name = labels.word(labels.REMINDER_KINDS, kind)
        print(f"    {name:58} {sent.get(kind, 0):5}   annulés {cancelled.get(kind, 0):5}")
    print(
        "Emails (tous, mise en route comprise) : "
        + ", ".join(f"{labels.word(labels.EMAIL_STATUSES, s)} {n}" for s, n in f["emails_by_status"].items())
    )
    rate = report.total / phases.ingestion if phases.ingestion else 0.0
    took = f"en {labels.decimal(phases.ingestion)} s ({rate:.0f} événements/s)"
    print(f"\nIntégration (mise en route comprise) : {report.summary()}, {took}")
    for kind, n in rejected_by_rule.most_common():
        print(f"    rejetés : {kind:70} {n:5}")
    state = "intacts" if verified.ok else f"{len(verified.breaks)} CASSÉ(S)"
    print(f"Journal d'audit : {verified.rows} lignes en {verified.cases} chaînes, {state}")
