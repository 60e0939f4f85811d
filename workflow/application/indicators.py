"""Quarterly indicators: seed 004's (art. 5.2 c) and the dashboards of seeds 000/001/002.

Computed from the cases' dates (orientation, contract, exit), which are facts of the past, so a
past quarter gives the same figures whenever it is asked for:

- seed 004 c: entries in the quarter, origin of the orientations, cases in progress at the end,
  typology of the public (BRSA, ASS, ARE, BOE…), exits by type;
- seeds 000/001: cumulative entries, average start delay, average portfolio size, people
  currently accompanied; seed 002: share of orientations from France Travail and from the
  Département, average entry delay against the 3-week target.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Case, Person
from workflow.adapters import charts, french_csv
from workflow.domain import labels
from workflow.domain.conventions import ConventionBook
from workflow.domain.dates import add_months
from workflow.domain.errors import WorkflowError
from workflow.domain.vocabulary import Origin


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """'2026-Q3' (as scripts and file names write it) or 'T3 2026' (as people do) →
        Quarter(2026, 3), with a clear error otherwise."""
        found = _AS_SCRIPTS.fullmatch(text.strip()) or _AS_PEOPLE.fullmatch(text.strip())
        if found is None:
            raise WorkflowError(f"le trimestre {text!r} ne s'écrit pas comme T3 2026 (ou 2026-Q3)")
        return cls(int(found["year"]), int(found["number"]))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year, self.number - 1) if self.number > 1 else Quarter(self.year - 1, 4)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The day after the quarter."""
        return add_months(self.start, 3)

    def __str__(self) -> str:
        """The quarter as scripts and file names write it: 2026-Q3."""
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        """The quarter as people read it: T3 2026."""
        return f"T{self.number} {self.year}"


_AS_SCRIPTS = re.compile(r"(?P<year>\d{4})-[Qq](?P<number>[1-4])")
_AS_PEOPLE = re.compile(r"[Tt](?P<number>[1-4])\s+(?P<year>\d{4})")


@dataclass(frozen=True)
class Indicators:
    quarter: str
    departement: str | None
    entries: int
    origins: dict[str, int]
    in_progress_at_end: int
    typology: dict[str, int]
    exits: dict[str, int]
    cumulative_entries: int
    average_entry_delay_days: float | None
    entry_target_days: int | None
    average_portfolio: float | None
    share_from_france_travail: float | None
    monthly: list[dict[str, Any]]  # the twelve months to the quarter's end: entries, exits, entry delay
    load: dict[str, int]  # cases under contract per conseiller at the quarter's end
    portfolio_target: tuple[int, int] | None  # the convention's 70-100

    def rows(self) -> list[tuple[str, str, Any]]:
        """(indicator, detail, value): the table, and the CSV."""
        out: list[tuple[str, str, Any]] = [("entrées du trimestre", "", self.entries)]
        out += [
            ("origine des orientations", labels.word(labels.ORIGINS, k), v) for k, v in self.origins.items()
        ]
        out.append(("en cours à la fin du trimestre", "", self.in_progress_at_end))
        out += [
            ("typologie du public (en cours)", labels.word(labels.PERSON_STATUSES, k), v)
            for k, v in self.typology.items()
        ]
        out += [
            ("sorties du trimestre", labels.word(labels.EXIT_REASONS, k), v) for k, v in self.exits.items()
        ]
        out.append(("entrées cumulées", "", self.cumulative_entries))
        target = f"cible {self.entry_target_days}" if self.entry_target_days is not None else ""
        out.append(("délai moyen orientation → contrat (jours)", target, self.average_entry_delay_days))
        out.append(("portefeuille moyen par conseiller", "", self.average_portfolio))
        share = self.share_from_france_travail
        out.append(
            ("part des orientations France Travail", "", None if share is None else labels.percent(share))
        )
        out += [
            ("dossiers sous contrat par conseiller (fin du trimestre)", k, v) for k, v in self.load.items()
        ]
        return out

    def csv(self) -> str:
        """The table for French Excel (`adapters.french_csv`)."""
        buffer = io.StringIO(newline="")
        rows = (
            [
                Quarter.parse(self.quarter).label,
                self.departement or "tous",
                name,
                detail,
                "" if value is None else value,
            ]
            for name, detail, value in self.rows()
        )
        french_csv.write_rows(buffer, ["Trimestre", "Département", "Indicateur", "Détail", "Valeur"], rows)
        return buffer.getvalue()


def write_files(indicators: Indicators, directory: Path) -> tuple[Path, Path]:
    """`indicateurs-<quarter>-<département or tous>.csv` and `.png` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"indicateurs-{indicators.quarter}-{indicators.departement or 'tous'}"
    table, chart = stem.with_suffix(".csv"), stem.with_suffix(".png")
    table.write_text(indicators.csv(), encoding="utf-8", newline="")
    chart.write_bytes(chart_png(indicators))
    return table, chart


def departements(session: Session) -> list[str]:
    """The conventions that have cases."""
    return list(session.scalars(select(Case.convention_code).distinct().order_by(Case.convention_code)))


def compute(session: Session, book: ConventionBook, quarter: Quarter, departement: str | None) -> Indicators:
    query = select(Case, Person.status).join(Person, Person.id == Case.person_id)
    if departement is not None:
        query = query.where(Case.convention_code == departement)
    start, end = quarter.start, quarter.end
    rows = [(case, status) for case, status in session.execute(query)]
    cases = [case for case, _ in rows]
    entered = [c for c in cases if _in(c.contract_start, start, end)]
    oriented = [c for c in cases if start <= c.orientation_date < end]
    ongoing = [
        (c, status)
        for c, status in rows
        if c.contract_start is not None
        and c.contract_start < end
        and (c.exit_date is None or c.exit_date >= end)
    ]
    delays = [(c.contract_start - c.orientation_date).days for c in entered if c.contract_start]
    per_conseiller = Counter(c.conseiller_id for c, _ in ongoing if c.conseiller_id)
    origins = Counter(c.origin for c in oriented)
    terms = book.in_force(departement, end - timedelta(1)).terms if departement else None
    target = terms.entry_target_days if terms else None
    return Indicators(
        quarter=str(quarter),
        departement=departement,
        entries=len(entered),
        origins=dict(origins.most_common()),
        in_progress_at_end=len(ongoing),
        typology=dict(Counter(status for _, status in ongoing).most_common()),
        exits=dict(
            Counter(
                c.exit_reason or "" for c in cases if c.exit_date and start <= c.exit_date < end
            ).most_common()
        ),
        cumulative_entries=sum(1 for c in cases if c.contract_start is not None and c.contract_start < end),
        average_entry_delay_days=round(sum(delays) / len(delays), 1) if delays else None,
        entry_target_days=target,
        average_portfolio=round(len(ongoing) / len(per_conseiller), 1) if per_conseiller else None,
        share_from_france_travail=round(origins[Origin.FRANCE_TRAVAIL] / len(oriented), 3)
        if oriented
        else None,
        monthly=_monthly(cases, end),
        load=dict(sorted(per_conseiller.items())),
        portfolio_target=(terms.portfolio_min, terms.portfolio_max) if terms else None,
    )


def _in(day: date | None, first: date, last: date) -> bool:
    return day is not None and first <= day < last


def _monthly(cases: list[Case], end: date) -> list[dict[str, Any]]:
    months = []
    for back in range(12, 0, -1):
        first = add_months(end, -back)
        last = add_months(first, 1)
        entered = [c for c in cases if _in(c.contract_start, first, last)]
        delays = [(c.contract_start - c.orientation_date).days for c in entered if c.contract_start]
        months.append({
            "mois": f"{first.year}-{first.month:02d}",
            "entrees": len(entered),
            "sorties": sum(1 for c in cases if _in(c.exit_date, first, last)),
            "delai_moyen_entree_jours": round(sum(delays) / len(delays), 1) if delays else None,
        })  # fmt: skip
    return months


def chart_png(indicators: Indicators) -> bytes:
    """Three panels, as a PNG: entries and exits per month over the twelve months to the quarter's
    end; the average entry delay of each month against the convention's target (21 days, or 3
    weeks); the cases per conseiller at the quarter's end against the 70-100 portfolio."""
    months = [labels.month(m["mois"]) for m in indicators.monthly]
    x = list(range(len(months)))
    figure, (flows, delay, load) = charts.panels(3, 12)
    scope = f"département {indicators.departement}" if indicators.departement else "tous départements"
    # Bars are drawn over the target band.
    above = charts.ABOVE
    flows.bar([i - 0.2 for i in x], [m["entrees"] for m in indicators.monthly], width=0.4, label="entrées",
              zorder=2)  # fmt: skip
    flows.bar([i + 0.2 for i in x], [m["sorties"] for m in indicators.monthly], width=0.4, label="sorties",
              zorder=2)  # fmt: skip
    flows.set_xticks(x, months, rotation=45, ha="right")
    flows.set_ylabel("dossiers")
    flows.set_title(
        f"Entrées et sorties par mois ({scope}, jusqu'à la fin du {Quarter.parse(indicators.quarter).label})",
        pad=28,
    )
    flows.legend(**above)

    points = [(i, m["delai_moyen_entree_jours"]) for i, m in zip(x, indicators.monthly, strict=True)]
    shown = [(i, d) for i, d in points if d is not None]
    delay.plot(
        [i for i, _ in shown], [d for _, d in shown], marker="o", label="délai moyen orientation → contrat",
        zorder=3,
    )  # fmt: skip
    highest = [d for _, d in shown]
    if indicators.entry_target_days is not None:
        delay.axhline(indicators.entry_target_days, color="red", linestyle="--", zorder=1,
                      label=f"cible {indicators.entry_target_days} jours")  # fmt: skip
        highest.append(indicators.entry_target_days)
    delay.set_ylim(0, max(highest, default=1) * 1.15)  # from 0: a delay is read against nothing
    delay.set_xlim(-0.5, len(x) - 0.5)
    delay.set_xticks(x, months, rotation=45, ha="right")
    delay.set_ylabel("jours")
    delay.set_title("Délai d'entrée par mois", pad=28)
    delay.legend(**above)

    names = list(indicators.load)
    if indicators.portfolio_target is not None:
        low, high = indicators.portfolio_target
        load.axhspan(low, high, color="green", alpha=0.15, zorder=0, label=f"portefeuille cible {low}–{high}")
    load.bar(range(len(names)), [indicators.load[n] for n in names], label="dossiers sous contrat", zorder=2)
    load.set_xticks(range(len(names)), names, rotation=45, ha="right")
    load.set_ylabel("dossiers")
    load.set_title(f"Charge par conseiller à la fin du {Quarter.parse(indicators.quarter).label}", pad=28)
    load.legend(**above)
    return charts.png(figure)
