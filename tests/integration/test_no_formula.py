"""No text a sender wrote ever becomes a formula in a file a person opens (OWASP, CSV injection).

The free text that reaches a tableau (an agency's name, a case reference, an event id) is posted
as the formulas an attacker would try, then every file the service writes is read back: no
formula cell in the XLSX, no CSV field that a spreadsheet would evaluate, and every value given
back exactly once its one guarding apostrophe is dropped.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import Harness
from tests.factories import Story
from workflow.adapters import french_csv, revue_files
from workflow.application.audit import export as log_export
from workflow.application.queries.point_in_time import portfolio_at
from workflow.application.revue.production import produce

AGENCE = '=HYPERLINK("http://evil.example/","Ouvrir")'
CASE_REF = "-2-3"  # a case reference may begin with a minus: Excel reads -2-3 as a formula
EVENT_ID = "@SUM(1+1)*cmd|' /C calc'!A0"
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _agency_case(h: Harness) -> Story:
    story = Story(ref=CASE_REF)
    person = {"ft_identifier": story.ft, "status": "BRSA", "registered": True, "departement": "67",
              "agence": AGENCE}  # fmt: skip
    h.apply(story.orientation(event_id=EVENT_ID, person=person), story.binome(), story.diagnostic(),
            story.contract())  # fmt: skip
    return story


def _csv_cells(text: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter)
            for cell in row]  # fmt: skip


def _assert_inert(cells: list[str], *expected: str) -> None:
    assert not [c for c in cells if c.startswith(DANGEROUS)], "a field a spreadsheet would evaluate"
    restored = {french_csv.restore(c) for c in cells}
    assert set(expected) <= restored, set(expected) - restored


def test_the_revue_workbook_holds_the_senders_text_as_text_never_a_formula(harness: Harness) -> None:
    _agency_case(harness)
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    book = load_workbook(io.BytesIO(revue_files.xlsx_bytes(revue)))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    agence = book["Revue"]["B1"]
    assert agence.value == AGENCE and agence.data_type == "s" and agence.quotePrefix
    refs = [c for c in cells if c.value == CASE_REF]
    assert refs and all(c.data_type == "s" and c.quotePrefix for c in refs)
    assert [c.hyperlink for c in cells if c.hyperlink is not None] == []


def test_the_revue_csv_guards_every_field_and_reads_back_as_written(harness: Harness, tmp_path: Path) -> None:
    _agency_case(harness)
    revue = produce(harness.uow(), harness.ctx, AGENCE, "2026-04")
    assert revue is not None
    text = revue_files.csv_text(revue)
    _assert_inert(_csv_cells(text, ";"), CASE_REF)
    sent_back = tmp_path / "retour.csv"
    sent_back.write_text(text.replace(";;\r\n", ";Renouveler;C67\r\n"), encoding="utf-8")
    assert {line.cells["dossier"] for line in revue_files.read_back(sent_back, revue)} == {CASE_REF}


def test_the_journal_exports_guard_every_field_and_json_keeps_them_untouched(harness: Harness) -> None:
    _agency_case(harness)
    for fmt, delimiter in (("excel", ";"), ("csv", ",")):
        with harness.sessions() as s:
            out = io.StringIO()
            log_export.write_export(log_export.export_rows(s, log_export.LogFilter()), out, fmt)
        _assert_inert(_csv_cells(out.getvalue(), delimiter), CASE_REF, EVENT_ID)
    with harness.sessions() as s:
        out = io.StringIO()
        log_export.write_export(log_export.export_rows(s, log_export.LogFilter()), out, "json")
    assert f'"event_id": "{EVENT_ID}"' in out.getvalue().replace('\\"', '"')


def test_the_portfolio_csv_guards_every_field(harness: Harness) -> None:
    _agency_case(harness)
    with harness.sessions() as s:
        found = portfolio_at(s, harness.ctx, date(2026, 4, 1), agence=AGENCE)
    _assert_inert(_csv_cells(found.csv(), ";"), f"agence {AGENCE}")


def test_a_text_that_begins_with_an_apostrophe_comes_back_unchanged() -> None:
    for text in ("'=1", "''", "=1", "-", "plain", "", "\r\n", "@"):
        assert french_csv.restore(french_csv.inert(text)) == text
        assert not french_csv.inert(text).startswith(DANGEROUS)
