"""The monthly revue of a hand-built agency, checked case by case; its files read back; produced
once per agency and month; scheduled on the first working day, late if the scheduler was down."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from models import RejectedEvent, Revue
from scheduler.jobs import Jobs
from tests.conftest import Harness
from tests.factories import Story
from tests.smtp import SmtpSink
from tests.words import bare_codes, visible_text
from workflow.adapters import revue_files
from workflow.adapters.convention_files import load_book
from workflow.adapters.email_rendering import render_revue
from workflow.application.revue.production import produce, revue_dates, secretariat
from workflow.domain import labels
from workflow.domain.clock import PARIS, ManualClock
from workflow.domain.errors import ConfigurationError
from workflow.domain.vocabulary import BARRIER_CODES, Role

AGENCE = "Strasbourg-Nord"


def build_agency(h: Harness) -> dict[str, Story]:
    """Cases of the 67 agency in every situation the April 2026 revue looks at."""
    s = {name: Story() for name in ("entered", "late", "left", "reoriented", "missed", "disagreed")}
    s["ending"] = Story(start=date(2025, 10, 1))
    h.apply(*s["entered"].until_contract())  # contract on 13 March
    h.apply(s["late"].orientation())  # no contract 21 days after 2 March
    h.apply(*s["left"].until_contract(), s["left"].exit("emploi", days=3))
    h.apply(*s["reoriented"].until_contract(), s["reoriented"].exit("reorientation_sociale", days=4))
    h.apply(*s["ending"].until_contract())  # contract from October 2025: ends 11 April 2026
    planned = s["missed"].appointment(kind="emploi", days=1)
    h.apply(*s["missed"].until_contract()[:2], planned)
    h.apply(s["missed"].outcome(planned["appointment_id"], kind="appointment_missed"))
    h.apply(*s["disagreed"].until_contract()[:2])
    report = h.ingest_events([s["disagreed"].diagnostic(conseiller_opinion="defavorable")])
    assert report.rejected == 1
    h.apply(Story(departement="35").orientation())  # another agency: never in this revue
    return s


def test_the_revue_dates_skip_weekends_and_holidays() -> None:
    book = load_book()
    april = revue_dates(book, 2026, 4, "67")
    assert (april.since, april.held_on, april.next_on) == (
        date(2026, 3, 2),
        date(2026, 4, 1),
        date(2026, 5, 4),
    )
    assert april.held_at == datetime(2026, 4, 1, 8, 0, tzinfo=PARIS)
    assert revue_dates(book, 2026, 1, "67").held_on == date(2026, 1, 2)


def test_a_convention_sets_its_revue_day_and_hour(tmp_path: Path) -> None:
    override = tmp_path / "conventions.toml"
    override.write_text(
        '[[convention]]\ncode = "67"\nversion = "2021"\nname = "Bas-Rhin"\neffective_from = 2021-01-01\n'
        'revue_working_day = 3\nrevue_time = "14:30"\n',
        encoding="utf-8",
    )
    book = load_book(override)
    may = revue_dates(book, 2026, 5, "67")  # 1 May and the weekend: 4, 5, 6 May
    assert may.held_at == datetime(2026, 5, 6, 14, 30, tzinfo=PARIS)
    # April: 1, 2, then Good Friday (Alsace-Moselle) and Easter Monday: the 7th is the third.
    assert (may.since, may.next_on) == (date(2026, 4, 7), date(2026, 6, 3))
    assert revue_dates(book, 2026, 5, "35").held_at == datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("revue_working_day = 0", "revue_working_day est un nombre entier de 1 à 18"),
        ('revue_working_day = "2"', "revue_working_day est un nombre entier de 1 à 18"),
        ('revue_time = "25:00"', 'revue_time est une heure comme "08:00"'),
    ],
)
def test_a_bad_revue_schedule_is_refused_naming_the_block(tmp_path: Path, line: str, problem: str) -> None:
    override = tmp_path / "conventions.toml"
    override.write_text(f'[[convention]]\ncode = "82"\nversion = "2021"\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"conventions.toml: \[\[convention\]\] #\d+ \(82/2021\)"):
        load_book(override)
    with pytest.raises(ConfigurationError) as refused:
        load_book(override)
    assert problem in str(refused.value)


def test_the_secretariat_alternates_month_after_month() -> None:
    turns = [secretariat(2026, m) for m in range(1, 7)]
    assert turns == [Role.REFERENT_SOCIAL, Role.CONSEILLER] * 3


def test_the_tableau_lists_each_case_where_it_belongs(harness: Harness) -> None:
    s = build_agency(harness)
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    t = revue.content
    assert [r["dossier"] for r in t["entrees"]] == sorted(
        [s["entered"].ref, s["left"].ref, s["reoriented"].ref]
    )
    first = next(r for r in t["entrees"] if r["dossier"] == s["entered"].ref)
    assert first == {"dossier": s["entered"].ref, "conseiller": "C67", "referent_social": "R67",
                     "orientation": "2026-03-02", "contrat": "2026-03-13", "diagnostic": "partage",
                     "delai_jours": 11}  # fmt: skip
    ending = {"dossier": s["ending"].ref, "conseiller": "C67", "fin_contrat": "2026-04-11",
              "renouvellements": 0, "renouvellement_possible": True}  # fmt: skip
    assert t["renouvellements"] == [ending]
    exits = {r["dossier"]: (r["motif"], r["reorientation_brsa"]) for r in t["sorties"]}
    assert exits == {s["left"].ref: ("emploi", False), s["reoriented"].ref: ("reorientation_sociale", True)}
    debate = {(r["dossier"], r["sujet"]) for r in t["a_debattre"]}
    assert debate == {
        (s["late"].ref, "délai d'entrée dépassé"),
        (s["missed"].ref, "délai d'entrée dépassé"),
        (s["disagreed"].ref, "délai d'entrée dépassé"),
        (s["missed"].ref, "rendez-vous emploi manqué"),
        (s["disagreed"].ref, "désaccord du binôme"),
    }
    assert t["conseillers"] == [{"conseiller": "C67", "actifs": 2, "cible": "70-100", "entrees_du_mois": 3}]
    assert t["chiffres"] == [{"entrees": 3, "sorties": 2, "delai_moyen_entree_jours": 11.0}]
    assert (revue.held_on, revue.secretariat) == (date(2026, 4, 1), Role.CONSEILLER)


def test_the_xlsx_reads_back_as_the_tableau_and_the_csv_has_every_row(
    harness: Harness, tmp_path: Path
) -> None:
    build_agency(harness)
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    xlsx, table = revue_files.write(revue, tmp_path)
    assert revue_files.read_xlsx(xlsx) == revue.content
    raw = table.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # French Excel finds UTF-8 by its BOM
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Rubrique;Dossier;Conseiller;Référent social;Orientation;Début du contrat")
    assert len(lines) == 1 + sum(len(rows) for rows in revue.content.values())
    assert any(line.startswith("Sorties à acter;") and ";Emploi;" in line for line in lines), lines
    assert not any(";True;" in line or ";False;" in line or "2026-0" in line for line in lines[1:])


def test_the_xlsx_opens_formatted_for_people(harness: Harness, tmp_path: Path) -> None:
    """Read back by openpyxl: French headers, bold and frozen above filters, widths, real dates."""
    build_agency(harness)
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    xlsx, _ = revue_files.write(revue, tmp_path)
    book = load_workbook(xlsx)
    cover = {row[0].value: row[1] for row in book["Revue"].iter_rows()}
    assert (
        cover["Revue de"].value == "avril 2026" and cover["Secrétariat"].value == "Conseiller France Travail"
    )
    assert cover["Tenue le"].value == datetime(2026, 4, 1) and cover["Tenue le"].number_format == "dd/mm/yyyy"
    entries = book["Entrées à acter"]
    header = [c.value for c in entries[1]]
    assert header[:4] == ["Dossier", "Conseiller", "Référent social", "Orientation"]
    assert header[-2:] == ["Décision", "Acteur"] and "Délai d'entrée (jours)" in header
    assert all(c.font.b for c in entries[1])
    assert entries.freeze_panes == "A2"
    assert entries.auto_filter.ref == f"A1:{entries.cell(1, len(header)).column_letter}{entries.max_row}"
    started = entries.cell(2, header.index("Début du contrat") + 1)
    assert isinstance(started.value, datetime) and started.number_format == "dd/mm/yyyy"
    assert isinstance(entries.cell(2, header.index("Délai d'entrée (jours)") + 1).value, int)
    assert entries.column_dimensions["A"].width >= len(revue.content["entrees"][0]["dossier"])
    diagnostics = {
        entries.cell(r, header.index("Diagnostic") + 1).value for r in range(2, entries.max_row + 1)
    }
    assert diagnostics <= set(labels.DIAGNOSTIC_KINDS.values())
    renewals = book["Renouvellements"]
    possible = [c.value for c in renewals[1]].index("Renouvellement possible") + 1
    assert {renewals.cell(r, possible).value for r in range(2, renewals.max_row + 1)} <= {"oui", "non"}
    [rule] = renewals.data_validations.dataValidation
    assert rule.type == "list" and rule.formula1 == "'Listes'!$B$1:$B$15"
    choices = [c.value for c in book["Listes"]["B"]]
    assert choices[:2] == ["Renouveler", "Sortie — Emploi"] and book["Listes"].sheet_state == "hidden"
    # Words everywhere a person reads: no code, no True/False, no ISO date, in any sheet.
    for sheet in book.worksheets:
        cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if isinstance(c.value, str))
        assert not bare_codes(cells), (sheet.title, bare_codes(cells))
    assert not bare_codes(revue_files.csv_text(revue))
    email = render_revue(revue)
    assert not bare_codes(f"{email.subject} {email.text} {visible_text(email.html)}")


def test_a_revue_is_produced_once_per_agency_and_month(harness: Harness) -> None:
    build_agency(harness)
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: produce(harness.uow(), harness.ctx, AGENCE, "2026-04"), range(2)))
    assert sum(r is not None for r in made) == 1


def test_the_scheduler_queues_a_revue_on_its_day_or_late_but_once(
    harness: Harness, clock: ManualClock
) -> None:
    build_agency(harness)
    queued: list[tuple[str, str]] = []

    def queue(agence: str, month: str) -> None:
        queued.append((agence, month))
        produce(harness.uow(), harness.ctx, agence, month)

    jobs = Jobs(
        harness.uow, harness.ctx, lambda day, digest: None, queue, lambda quarter: None, lambda: None,
        lambda ids: None, lambda: True,
    )  # fmt: skip
    clock.set(datetime(2026, 5, 1, 8, 0, tzinfo=PARIS))  # 1 May, a holiday: May's revue is on the 4th
    assert jobs.monthly_revues() == []
    clock.set(datetime(2026, 5, 4, 7, 45, tzinfo=PARIS))  # its day, before its hour
    assert jobs.monthly_revues() == []
    clock.set(datetime(2026, 5, 6, 9, 0, tzinfo=PARIS))  # the scheduler was down on the 4th and 5th
    assert jobs.catch_up() == ["reminder-scan", "quarterly-indicators", "monthly-revues"]
    clock.set(datetime(2026, 5, 7, 8, 0, tzinfo=PARIS))
    assert jobs.monthly_revues() == []
    assert queued == [("Agence", "2026-05"), (AGENCE, "2026-05")]


def test_the_revue_is_mailed_once_with_its_tableau_to_the_agency_and_configured_people(
    mailing: Harness, smtp: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "destinataires.toml"
    config.write_text(
        '[departement."67"]\nrecipients = ["direction.67@ft.example", "fse.67@ft.example"]\n'
        f'[agence."{AGENCE}"]\nrecipients = ["insertion.nord@cd67.example"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ACCOMPAGNEMENT_REVUE_RECIPIENTS", str(config))
    build_agency(mailing)
    revue = produce(mailing.uow(), mailing.ctx, AGENCE, "2026-04")
    assert revue is not None
    assert produce(mailing.uow(), mailing.ctx, AGENCE, "2026-04") is None
    smtp.wait_for(2)  # the missed first appointment's reminder, then the revue
    (mail,) = [m for m in smtp.received if "Revue de portefeuille" in str(m.message["Subject"])]
    assert sorted(mail.recipients) == sorted(["claire@ft.example", "bruno@ft.example", "remi@cd67.example",
                                              "direction.67@ft.example", "fse.67@ft.example",
                                              "insertion.nord@cd67.example"])  # fmt: skip
    assert (
        mail.message["Subject"]
        == "[Accompagnement global] Revue de portefeuille — Strasbourg-Nord — avril 2026"
    )
    assert "Secrétariat de cette revue : le conseiller France Travail." in mail.text
    assert "entrées à acter : 3" in mail.text and "situations à débattre : 5" in mail.text
    names = sorted(str(part.get_filename()) for part in mail.message.iter_attachments())
    assert names == ["revue-Strasbourg-Nord-2026-04.csv", "revue-Strasbourg-Nord-2026-04.xlsx"]
    body = (mail.text + mail.html).lower()
    assert not [word for word in (*BARRIER_CODES, "brsa") if word in body]


def test_a_bad_recipients_file_is_refused_naming_file_and_field_and_nothing_is_stored(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "destinataires.toml"
    config.write_text(f'[agence."{AGENCE}"]\nrecipients = ["pas-une-adresse"]\n', encoding="utf-8")
    monkeypatch.setenv("ACCOMPAGNEMENT_REVUE_RECIPIENTS", str(config))
    build_agency(harness)
    with pytest.raises(
        ConfigurationError, match=r"destinataires.toml : \[agence.'Strasbourg-Nord'\] : le champ 'recipients'"
    ):
        produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    with harness.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Revue)) == 0


def _debates(harness: Harness, month: str) -> list[tuple[str, str, str]]:
    revue = produce(harness.uow(), harness.ctx, AGENCE, month)
    assert revue is not None
    return [(r["dossier"], r["sujet"], r["depuis"]) for r in revue.content["a_debattre"]]


def test_a_disagreement_is_debated_while_it_stands_and_dated_by_the_diagnostic(
    harness: Harness, clock: ManualClock
) -> None:
    settled, left, standing, backfilled = Story(), Story(), Story(), Story(start=date(2026, 3, 10))
    refused = {}
    for story in (settled, left, standing):
        harness.apply(*story.until_contract()[:2])
        refused[story.ref] = story.diagnostic(conseiller_opinion="defavorable")
        assert harness.ingest_events([refused[story.ref]]).rejected == 1
    harness.apply(settled.diagnostic(), settled.contract())  # agreed a few days later: settled
    harness.apply(left.exit("sans_entree_desaccord"))  # left without entry
    harness.apply(*backfilled.until_contract()[:2])
    late = backfilled.diagnostic(referent_opinion="defavorable")  # happened in March...
    clock.set(datetime(2026, 4, 20, 9, 0, tzinfo=PARIS))  # ...ingested on 20 April
    assert harness.ingest_events([late]).rejected == 1

    debates = {
        (ref, day) for ref, subject, day in _debates(harness, "2026-05") if subject == "désaccord du binôme"
    }
    assert debates == {
        (standing.ref, refused[standing.ref]["occurred_at"][:10]),
        (backfilled.ref, late["occurred_at"][:10]),  # March: the diagnostic's day, not the ingestion's
    }
    assert late["occurred_at"][:7] == "2026-03"


def test_a_disagreement_stored_in_the_reasons_former_english_wording_is_still_debated(
    harness: Harness,
) -> None:
    """Rejections recorded before the reasons were written in French began "joint agreement:";
    the revue still finds them."""
    story = Story()
    harness.apply(*story.until_contract()[:2])
    refused = story.diagnostic(conseiller_opinion="defavorable")
    assert harness.ingest_events([refused]).rejected == 1
    with harness.sessions() as s, s.begin():
        s.execute(
            update(RejectedEvent).values(
                reason="poser_diagnostic refused from state reperage: joint agreement: one professional "
                "is not in favour; a disagreement is debated at the monthly revue de portefeuille "
                "(seed 004 art. 2 e)"
            )
        )
    debates = [
        (ref, day) for ref, subject, day in _debates(harness, "2026-05") if subject == "désaccord du binôme"
    ]
    assert debates == [(story.ref, refused["occurred_at"][:10])]
