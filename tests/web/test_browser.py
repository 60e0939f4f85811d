"""The console in a real browser: Debian's chromium driven headless by Playwright, against the
app served by uvicorn on loopback. Sign in, open a case timeline, filter the audit, download its
CSV and compare it with the database, see a forbidden case refused; the screenshots of the main
pages are saved under docs/screenshots/ for the manual (docs/supervising.md).

Every page, signed in as each role, also passes axe-core's accessibility rules (RGAA, WCAG 2.1
AA) with no serious or critical violation, and can be walked with the keyboard."""

from __future__ import annotations

import csv
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, sync_playwright

from tests.conftest import service_unavailable
from tests.factories import Story
from tests.web.conftest import PASSWORD, Console
from workflow.application.audit import export as log_export
from workflow.application.revue.production import produce

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(console.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://localhost:{port}"  # localhost: a secure context, where Secure cookies work
    server.should_exit = True
    thread.join(10)


@contextmanager
def chromium_page(base_url: str) -> Iterator[Page]:
    """A page of Debian's chromium, headless, set as its users' browsers are (French, Paris)."""
    if not Path(CHROMIUM).exists():
        service_unavailable("Debian's chromium (apt-get install chromium; .ci/run installs it)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(
            base_url=base_url, viewport={"width": 1366, "height": 800}, accept_downloads=True,
            locale="fr-FR", timezone_id="Europe/Paris",
        )  # fmt: skip
        yield context.new_page()
        browser.close()


@pytest.fixture
def page(served: str) -> Iterator[Page]:
    with chromium_page(served) as opened:
        yield opened


def sign_in(page: Page, who: str) -> None:
    page.goto("/connexion")
    page.fill("input[name=identifiant]", who)
    page.fill("input[name=mot_de_passe]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dossiers")


# The page, or a table inside its scrolling wrapper, wider than what shows of it.
WIDER_THAN_THE_WINDOW = """
    document.documentElement.scrollWidth > document.documentElement.clientWidth
    || [...document.querySelectorAll('main table')].some(t => t.scrollWidth > t.parentElement.clientWidth + 1)
"""
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as shown, one line each."""
    found = Axe().run(page, options=WCAG_AA).response["violations"]
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])} élément(s)) : {v['help']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_a_supervisor_and_a_caseworker_in_the_browser(console: Console, page: Page, tmp_path: Path) -> None:
    p = page
    SHOTS.mkdir(parents=True, exist_ok=True)
    revue = produce(console.harness.uow(), console.harness.ctx, "Strasbourg-Nord", "2026-04")
    assert revue is not None

    p.goto("/connexion")
    p.screenshot(path=str(SHOTS / "connexion.png"), full_page=True)
    sign_in(p, "S67")
    assert console.mine.ref in p.content() and console.other.ref in p.content()
    assert console.elsewhere.ref not in p.content()
    p.screenshot(path=str(SHOTS / "dossiers.png"), full_page=True)

    p.click(f"a[href='/dossiers/{console.mine.ref}']")
    p.wait_for_selector("table.timeline")
    timeline = p.inner_text("table.timeline")
    assert "Signature du contrat" in timeline and "Diagnostic partagé → Contrat" in timeline
    p.screenshot(path=str(SHOTS / "dossier.png"), full_page=True)

    p.goto("/audit")
    p.select_option("select[name=transition]", "poser_diagnostic")
    p.fill("input[name=agence]", "Strasbourg-Nord")
    p.click("form.filtres button[type=submit]")
    p.wait_for_url("**/audit?*transition=poser_diagnostic*")
    p.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    with p.expect_download() as download:
        p.click("text=Exporter ces lignes en CSV")
    saved = tmp_path / "journal.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(encoding="utf-8-sig"), delimiter=";"))
    with console.harness.sessions() as s:
        flt = log_export.LogFilter(trigger="poser_diagnostic", agence="Strasbourg-Nord")
        expected = [r["hash"] for r in log_export.export_rows(s, flt)]
    assert [r["hash"] for r in rows] == expected and len(expected) == 2

    p.goto(f"/revues/{revue.id}")
    p.screenshot(path=str(SHOTS / "revue.png"), full_page=True)
    p.goto("/indicateurs?trimestre=2026-Q1")
    p.wait_for_load_state("networkidle")
    p.screenshot(path=str(SHOTS / "indicateurs.png"), full_page=True)

    p.click("text=Se déconnecter")
    p.wait_for_url("**/connexion")
    sign_in(p, "C67")
    response = p.goto(f"/dossiers/{console.other.ref}")
    assert response is not None and response.status == 403
    assert "Accès refusé" in p.inner_text("main")
    p.screenshot(path=str(SHOTS / "refus.png"))


@pytest.mark.parametrize("reader", ["S67", "C67", "R67", "AG67", "OP1"])
def test_every_page_meets_the_accessibility_rules_for_each_role(
    console: Console, page: Page, reader: str
) -> None:
    revue = produce(console.harness.uow(), console.harness.ctx, "Strasbourg-Nord", "2026-04")
    assert revue is not None
    long_ids = Story()  # an event id of 64 characters, with nowhere to break: the journal still fits
    console.harness.apply(long_ids.orientation(event_id="E" * 64))
    p = page
    p.goto("/connexion")
    found = {"/connexion": serious_violations(p)}
    overflowing: list[str] = []
    sign_in(p, reader)
    pages = ["/dossiers", "/dossiers?etat=tous", f"/dossiers/{console.mine.ref}",
             f"/dossiers/{console.mine.ref}?au=2026-03-05", f"/dossiers/{console.other.ref}", "/audit",
             "/audit?transition=inconnue&depuis=demain",
             "/revues", f"/revues/{revue.id}", "/indicateurs?trimestre=2026-Q1", "/calendrier",
             "/portefeuille?agence=Strasbourg-Nord&au=31/03/2026"]  # fmt: skip
    for path in pages:
        p.goto(path)
        p.wait_for_load_state("networkidle")
        assert p.evaluate("document.documentElement.lang") == "fr"
        found[path] = serious_violations(p)
        if p.evaluate(WIDER_THAN_THE_WINDOW):
            overflowing.append(path)  # at 1366 px, the page or one of its tables scrolls sideways
    assert {path: v for path, v in found.items() if v} == {}
    assert overflowing == []
    # The check sees what it is there for: an image without text, a field without a label.
    p.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=x><input>')")
    assert {line.split(" ")[0] for line in serious_violations(p)} == {"image-alt", "label"}
    # The keyboard reaches the content first (skip link), then the menu, and focus is visible.
    p.goto("/dossiers")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"
    outline = p.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    p.keyboard.press("Enter")
    assert p.evaluate("location.hash") == "#contenu"


def test_the_api_docs_render_the_openapi_document_offline(page: Page) -> None:
    """Swagger UI 5 (vendored) reads the OpenAPI 3.1 document: every operation is listed, and
    nothing was asked of another site."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = {p.inner_text().replace("\u200b", "") for p in page.query_selector_all(".opblock-summary-path")}
    assert {"/api/events", "/api/events/batch", "/api/events/{event_id}"} <= paths, paths
    assert "Unable to render" not in page.content()
    base = page.url.split("/api/docs")[0]
    assert asked and all(url.startswith(base) or url.startswith("data:") for url in asked), asked
