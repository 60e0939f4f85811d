"""Quarterly indicators on hand-built cases, their CSV and chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import Harness
from tests.factories import Story
from workflow.application.indicators import Quarter, chart_png, compute
from workflow.domain.errors import WorkflowError


def test_a_quarter_parses_or_is_refused_clearly() -> None:
    q3 = Quarter.parse("2026-q3")
    assert (q3.start, q3.end, str(q3)) == (date(2026, 7, 1), date(2026, 10, 1), "2026-Q3")
    assert Quarter.parse("T3 2026") == Quarter.parse("t3  2026") == q3 and q3.label == "T3 2026"
    for bad in ("2026-Q5", "2026-3", "Q3", "T5 2026", "T3-2026"):
        with pytest.raises(WorkflowError, match=f"le trimestre '{bad}' ne s'écrit pas comme T3 2026"):
            Quarter.parse(bad)


def test_the_first_quarter_of_a_hand_built_departement(harness: Harness) -> None:
    a = Story(start=date(2026, 1, 5))
    b = Story(start=date(2026, 2, 2), origin="departement")
    c = Story(start=date(2026, 3, 2), origin="departement")
    d = Story(start=date(2025, 11, 3), status="ARE")
    harness.apply(*a.until_contract(), *b.until_contract(), b.exit("emploi", days=3), c.orientation())
    harness.apply(*d.until_contract(), Story(departement="35").orientation())
    with harness.sessions() as session:
        figures = compute(session, harness.ctx.book, Quarter(2026, 1), "67")
    assert figures.entries == 2
    assert figures.origins == {"departement": 2, "france_travail": 1}
    assert figures.share_from_france_travail == 0.333
    assert figures.in_progress_at_end == 2
    assert figures.typology == {"BRSA": 1, "ARE": 1}
    assert figures.exits == {"emploi": 1}
    assert figures.cumulative_entries == 3
    assert (figures.average_entry_delay_days, figures.entry_target_days) == (11.0, 21)
    assert figures.average_portfolio == 2.0
    by_month = {m["mois"]: (m["entrees"], m["sorties"]) for m in figures.monthly}
    assert list(by_month) == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert (by_month["2025-11"], by_month["2026-01"], by_month["2026-02"]) == ((1, 0), (1, 0), (1, 1))
    lines = figures.csv().splitlines()
    # For French Excel: a BOM, semicolons, French words for the codes, decimal commas.
    assert lines[0] == "\ufeffTrimestre;Département;Indicateur;Détail;Valeur"
    assert "T1 2026;67;entrées du trimestre;;2" in lines
    assert "T1 2026;67;sorties du trimestre;Emploi;1" in lines
    assert "T1 2026;67;délai moyen orientation → contrat (jours);cible 21;11" in lines
    assert "T1 2026;67;part des orientations France Travail;;33 %" in lines
    png = chart_png(figures)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    with harness.sessions() as session:
        everywhere = compute(session, harness.ctx.book, Quarter(2026, 1), None)
    assert everywhere.origins["france_travail"] == 2  # the 35 case counts when no département is named


def test_the_quarterly_task_writes_every_departement_and_all_together(
    harness: Harness, task_runtime: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.indicators import quarterly_indicators

    harness.apply(
        *Story(start=date(2026, 7, 6)).until_contract(),
        Story(departement="35", start=date(2026, 8, 3)).orientation(),
    )
    monkeypatch.setenv("ACCOMPAGNEMENT_INDICATORS_DIR", str(tmp_path))
    result = quarterly_indicators.delay("2026-Q3").get()
    names = sorted(Path(f).name for f in result["files"])
    assert names == sorted(
        f"indicateurs-2026-Q3-{scope}.{ext}" for scope in ("35", "67", "tous") for ext in ("csv", "png")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    table = (tmp_path / "indicateurs-2026-Q3-67.csv").read_text(encoding="utf-8")
    assert "T3 2026;67;entrées du trimestre;;1" in table
