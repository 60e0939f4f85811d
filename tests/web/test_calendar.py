"""A caseworker's deadlines as a calendar feed: created from the console, fetched by a calendar
program with the token in its address, replaced at will; it carries only their binôme's cases."""

from __future__ import annotations

import re
from datetime import date

from icalendar import Calendar

from tests.web.conftest import Console

FORBIDDEN = ("BRSA", "santé", "logement", "RSA", "handicap")  # the person's situation never shows


def _subscribe(console: Console, who: str) -> str:
    client = console.client(who)
    page = client.get("/calendrier").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None and "mon adresse d" in page
    answer = client.post("/calendrier", data={"csrf": csrf.group(1)})
    link = re.search(r'<code class="lien-calendrier">([^<]+)</code>', answer.text)
    assert answer.status_code == 200 and link is not None, answer.text
    return link.group(1)


def test_a_caseworker_subscribes_and_sees_their_cases_deadlines(console: Console) -> None:
    link = _subscribe(console, "C67")
    assert link.startswith("https://testserver/calendrier/") and link.endswith(".ics")
    answer = console.client().get(link.removeprefix("https://testserver"))  # no session: the token
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    events = [c for c in calendar.walk("VEVENT")]
    summaries = [str(e["SUMMARY"]) for e in events]
    assert summaries and all(console.mine.ref in s for s in summaries)  # not the other binôme's case
    assert any(s.startswith("Fin du contrat — dossier") for s in summaries)
    ends = {e.decoded("DTSTART") for e in events if str(e["SUMMARY"]).startswith("Fin du contrat")}
    assert ends == {date(2026, 9, 12)}
    uids = {str(e["UID"]) for e in events}
    assert len(uids) == len(events)  # stable, distinct: updated, not doubled
    assert f"{console.mine.ref}.fin-du-contrat@accompagnement-global" in uids
    assert all(uid.isascii() and "--" not in uid for uid in uids), uids  # built from codes, not labels
    body = answer.content.decode()
    assert not [word for word in FORBIDDEN if word in body]


def test_a_new_address_replaces_the_old_and_an_unknown_one_is_refused(console: Console) -> None:
    first = _subscribe(console, "R67").removeprefix("https://testserver")
    client = console.client()
    assert client.get(first).status_code == 200
    second = _subscribe(console, "R67").removeprefix("https://testserver")
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200
    assert client.get("/calendrier/pas-un-jeton.ics").status_code == 404


def test_only_a_caseworker_has_a_calendar(console: Console) -> None:
    client = console.client("S67")
    page = client.get("/calendrier").text
    assert "celui d'un conseiller ou d'un référent social" in page and "Créer mon adresse" not in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post("/calendrier", data={"csrf": csrf.group(1)})
    assert "lien-calendrier" not in answer.text


def test_a_forged_form_creates_no_address(console: Console) -> None:
    client = console.client("C67")
    answer = client.post("/calendrier", data={"csrf": "forged"})
    assert "lien-calendrier" not in answer.text
