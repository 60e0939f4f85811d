"""Calendar months and the conventions' figures, loaded from data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from workflow.adapters.convention_files import load_book
from workflow.domain.dates import add_months, period_end
from workflow.domain.errors import ConfigurationError


def test_periods_are_real_calendar_months() -> None:
    assert period_end(date(2026, 1, 15), 6) == date(2026, 7, 14)
    assert period_end(date(2026, 3, 1), 9) == date(2026, 11, 30)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert period_end(date(2026, 8, 31), 6) == date(2027, 2, 27)


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.integers(-240, 240))
def test_calendar_months_are_dateutils(start: date, months: int) -> None:
    assert add_months(start, months) == start + relativedelta(months=months)


def test_the_shipped_figures_follow_the_seeds() -> None:
    book = load_book()
    ille = book.in_force("35", date(2026, 6, 1)).terms
    bas_rhin = book.in_force("67", date(2026, 6, 1)).terms
    tarn = book.in_force("82", date(2026, 6, 1))
    assert (ille.first_contract_months, ille.renewal_months, ille.max_total_months) == (9, 3, 12)
    assert (bas_rhin.first_contract_months, bas_rhin.renewal_months, bas_rhin.max_total_months) == (6, 6, 12)
    assert bas_rhin.entry_target_days == 21 and bas_rhin.confiance_reciproque
    assert ille.convocation_days == 15 and not ille.confiance_reciproque
    assert (ille.portfolio_min, ille.portfolio_max) == (70, 100)
    assert {"first_contract_months", "renewal_months", "max_total_months"} <= set(tarn.defaulted)
    assert tarn.terms.entry_target_days == 21 and "entry_target_days" not in tarn.defaulted


def test_the_avenant_in_force_depends_on_the_date() -> None:
    book = load_book()
    assert book.in_force("35", date(2023, 12, 31)).version == "2023"
    assert book.in_force("35", date(2024, 1, 1)).version == "2024-avenant"
    assert book.in_force("35", date(2024, 1, 1)).terms.dedicated_conseillers == 17


def test_no_version_before_the_first_takes_effect() -> None:
    with pytest.raises(ConfigurationError, match="pas de version en vigueur le 31/12/2020"):
        load_book().in_force("67", date(2020, 12, 31))
    with pytest.raises(ConfigurationError, match="aucune convention pour le département '99'"):
        load_book().in_force("99", date(2026, 1, 1))


def test_an_operator_override_changes_named_figures_and_adds_versions(tmp_path: Path) -> None:
    path = tmp_path / "override.toml"
    path.write_text(
        """
[defaults]
expiry_reminder_days = [45, 15, 7]

[[convention]]
code = "82"
version = "2021"
name = "Tarn-et-Garonne, durations agreed locally"
effective_from = 2021-01-01
first_contract_months = 8
renewal_months = 4

[[convention]]
code = "67"
version = "2027-avenant"
name = "Bas-Rhin avenant"
effective_from = 2027-01-01
first_contract_months = 9
renewal_months = 3
""",
        encoding="utf-8",
    )
    book = load_book(path)
    tarn = book.in_force("82", date(2026, 1, 1))
    assert (tarn.terms.first_contract_months, tarn.terms.renewal_months) == (8, 4)
    assert tarn.terms.entry_target_days == 21  # kept from the shipped block
    assert "first_contract_months" not in tarn.defaulted
    assert tarn.terms.expiry_reminder_days == (45, 15, 7)
    assert book.in_force("67", date(2026, 12, 31)).version == "2021"
    assert book.in_force("67", date(2027, 1, 1)).terms.first_contract_months == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[convention]]\ncode='1'\n", "'version' manque"),
        (
            "[[convention]]\ncode='67'\nversion='x'\nname='n'\neffective_from=2021-01-01\nrenewal_mnths=3\n",
            "chiffre(s) inconnu(s) ['renewal_mnths']",
        ),
        (
            "[[convention]]\ncode='67'\nversion='x'\nname='n'\neffective_from=2021-01-01\nrenewal_months='six'\n",
            "renewal_months est un nombre entier >= 0, pas 'six'",
        ),
        (
            "[[convention]]\ncode='67'\nversion='x'\nname='n'\neffective_from='2021'\n",
            "effective_from est une date",
        ),
        (
            "[[convention]]\ncode='67'\nversion='x'\nname='n'\neffective_from=2021-01-01\nfirst_contract_months=13\n",
            "first_contract_months dépasse max_total_months",
        ),
        ("[convention\n", "override.toml : "),
        ("[defaults]\nmax_renewal=1\n", "[defaults] a un ou des chiffres inconnus ['max_renewal']"),
    ],
)
def test_a_bad_override_names_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "override.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as exc:
        load_book(path)
    assert message in str(exc.value)
    assert "override.toml" in str(exc.value)
