"""The console's pages through HTTP: sign-in, CSRF, lock-out, and every page hit by each role,
including a professional trying another binôme's case by its reference."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from models import AccessDenial
from tests.web.conftest import PASSWORD, READERS, Console
from workflow import audit
from workflow.revue import produce


def test_pages_need_a_signed_in_professional(console: Console) -> None:
    client = console.client()
    for path in (
        "/dossiers",
        f"/dossiers/{console.mine.ref}",
        "/audit",
        "/audit.csv",
        "/revues",
        "/indicateurs",
    ):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/connexion"), path


def test_the_session_cookie_is_secure_and_sign_out_needs_the_form_token(console: Console) -> None:
    client = console.client("C67")
    cookie = next(c for c in client.cookies.jar if c.name == "ag_session")
    assert cookie.secure
    assert client.post("/deconnexion", data={"csrf": "forged"}).status_code == 303
    assert client.get("/dossiers").status_code == 200  # still signed in: the forged form did nothing
    csrf = client.get("/dossiers").text.split('name="csrf" value="')[1].split('"')[0]
    client.post("/deconnexion", data={"csrf": csrf})
    assert client.get("/dossiers").status_code == 303


def test_a_sign_in_without_the_form_token_is_refused(console: Console) -> None:
    client = console.client()
    answer = client.post("/connexion", data={"identifiant": "C67", "mot_de_passe": PASSWORD, "csrf": "x"})
    assert answer.status_code == 200 and "Formulaire expiré" in answer.text


def test_five_wrong_passwords_lock_the_account(console: Console) -> None:
    client = console.client()
    csrf = client.get("/connexion").text.split('name="csrf" value="')[1].split('"')[0]
    for _ in range(5):
        wrong = client.post(
            "/connexion", data={"identifiant": "R67", "mot_de_passe": "pas le bon", "csrf": csrf}
        )
        assert "Identifiant ou mot de passe incorrect" in wrong.text
    locked = client.post("/connexion", data={"identifiant": "R67", "mot_de_passe": PASSWORD, "csrf": csrf})
    assert locked.status_code == 200 and "verrouillé" in locked.text


@pytest.mark.parametrize("reader", READERS)
def test_each_role_sees_its_cases_and_no_others(console: Console, reader: str) -> None:
    expected = {
        "C67": {console.mine.ref}, "R67": {console.mine.ref}, "O67": {console.other.ref},
        "C67B": {console.other.ref}, "S67": {console.mine.ref, console.other.ref},
        "S35": {console.elsewhere.ref}, "AG67": set(),
        "OP1": {console.mine.ref, console.other.ref, console.elsewhere.ref},
    }[reader]  # fmt: skip
    client = console.client(reader)
    listing = client.get("/dossiers")
    assert listing.status_code == 200
    for story in (console.mine, console.other, console.elsewhere):
        assert (story.ref in listing.text) is (story.ref in expected)
        page = client.get(f"/dossiers/{story.ref}")
        assert page.status_code == (200 if story.ref in expected else 403), (reader, story.ref)
        if story.ref not in expected:
            assert "Accès refusé" in page.text
        journal = client.get("/audit", params={"dossier": story.ref})
        assert (f"/dossiers/{story.ref}" in journal.text) is (story.ref in expected)
    for path in ("/revues", "/indicateurs", "/indicateurs/graphique.png"):
        assert client.get(path).status_code == 200, path


def test_a_forbidden_case_is_refused_and_the_refusal_kept(console: Console) -> None:
    page = console.client("C67").get(f"/dossiers/{console.other.ref}")
    assert page.status_code == 403
    assert f"le dossier {console.other.ref} n&#39;est pas l&#39;un des vôtres" in page.text
    with console.harness.sessions() as s:
        denial = s.scalar(select(AccessDenial))
    assert denial is not None and (denial.actor_id, denial.case_reference) == ("C67", console.other.ref)


def test_the_case_page_shows_its_timeline_dates_binome_and_chain(console: Console) -> None:
    page = console.client("R67").get(f"/dossiers/{console.mine.ref}").text
    for text in (
        "signer_contrat",
        "diagnostic → contrat",
        "C67",
        "R67",
        "intact",
        "Historique",
        "fin du contrat",
    ):
        assert text in page


def test_the_audit_csv_is_exactly_the_rows_the_search_shows(console: Console) -> None:
    client = console.client("S67")
    params = {"transition": "poser_diagnostic", "agence": "Strasbourg-Nord"}
    shown = client.get("/audit", params=params).text
    answer = client.get("/audit.csv", params=params)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    with console.harness.sessions() as s:
        expected = list(
            audit.export_rows(s, audit.LogFilter(trigger="poser_diagnostic", agence="Strasbourg-Nord"))
        )
    assert [r["hash"] for r in rows] == [r["hash"] for r in expected]
    assert {r["case_reference"] for r in rows} == {console.mine.ref, console.other.ref}
    assert all(f"/dossiers/{r['case_reference']}" in shown for r in rows)


def test_the_revue_page_and_its_xlsx(console: Console) -> None:
    revue = produce(console.harness.uow(), console.harness.ctx, "Strasbourg-Nord", "2026-04")
    assert revue is not None
    client = console.client("C67")
    page = client.get(f"/revues/{revue.id}")
    assert page.status_code == 200 and "Entrées à acter" in page.text and console.mine.ref in page.text
    xlsx = client.get(f"/revues/{revue.id}/tableau.xlsx")
    assert (
        xlsx.content[:2] == b"PK"
        and "revue-Strasbourg-Nord-2026-04.xlsx" in xlsx.headers["content-disposition"]
    )
    assert console.client("S35").get(f"/revues/{revue.id}").status_code == 403
