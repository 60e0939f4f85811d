"""No input gives a 5xx: every console route, its path and query fields, its forms, and the
door's addresses, driven by hypothesis with control characters, NUL bytes, numbers out of every
range, non-UTF-8 escapes and long text, on the test database (SQLite, and PostgreSQL in CI).
Each refusal is a 4xx, in French for the console."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import PASSWORD, Console

NASTY = ["\x00", "a\x00b", "\x1f", "\x7f", "\t", "\r\n", "99999999999999999999", "2147483648", "-1",
         "0", "9" * 400, "%", "../../etc/passwd", "é", "\u202e", "'; DROP TABLE case_file; --", "<script>",
         ""]  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.text(st.sampled_from(["\x00", "\x01", "a", "1", "é", "/"]), max_size=10),
)
RAW_ESCAPES = st.sampled_from(["%00", "%FF", "%C3%28", "%E2%82", "%ZZ", "%0A", "%2F", "%25"])
SEEN: Counter[str] = Counter()
FORMS = {"/connexion": ("identifiant", "mot_de_passe", "csrf", "suite"), "/deconnexion": ("csrf",),
         "/calendrier": ("csrf",)}  # fmt: skip
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _routes(console: Console) -> list[tuple[str, list[str], list[str]]]:
    """(path, path fields, query fields) of every GET route but the static files (FastAPI keeps an
    included router's routes behind a wrapper: `original_router`)."""
    out = []
    found: list[Any] = list(console.app.routes)
    while found:
        route = found.pop(0)
        if hasattr(route, "original_router"):
            found.extend(route.original_router.routes)
        elif isinstance(route, APIRoute) and "GET" in (route.methods or ()):
            params = _params(route.dependant)
            out.append((route.path, [p.name for p in params["path"]], [q.name for q in params["query"]]))
    return out


def _params(dependant: Dependant) -> dict[str, list]:  # type: ignore[type-arg]
    """The path and query fields of a route, its dependencies' included."""
    found = {"path": list(dependant.path_params), "query": list(dependant.query_params)}
    for sub in dependant.dependencies:
        for kind, fields in _params(sub).items():
            found[kind] += [f for f in fields if f.name not in {g.name for g in found[kind]}]
    return found


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(values[m.group(1)], safe=""), path)


def _check(answer_status: int, text: str, what: str) -> None:
    SEEN[f"{answer_status // 100}xx"] += 1
    assert answer_status < 500, (what, answer_status, text[:300])


@pytest.fixture
def signed_in(console: Console) -> dict[str, TestClient]:
    return {user: console.client(user) for user in ("S67", "C67", "OP1")}


def test_every_route_is_fuzzed(console: Console) -> None:
    paths = {path for path, _, _ in _routes(console)}
    assert {"/dossiers", "/dossiers/{reference}", "/audit", "/revues/{revue_id}", "/api/events/{event_id}",
            "/calendrier/{token}.ics", "/indicateurs/graphique.png"} <= paths, paths  # fmt: skip


@SETTINGS
@given(data=st.data())
def test_no_console_route_answers_5xx_to_any_path_or_query(
    console: Console, signed_in: dict[str, TestClient], data: st.DataObject
) -> None:
    path, path_fields, query_fields = data.draw(st.sampled_from(_routes(console)), label="route")
    user = data.draw(st.sampled_from(sorted(signed_in)), label="user")
    client = signed_in[user] if not path.startswith("/api") else _api(console)
    values = {name: data.draw(TEXT, label=name) for name in path_fields}
    query = {name: data.draw(TEXT, label=name) for name in query_fields if data.draw(st.booleans())}
    url = _fill(path, values)
    answer = client.get(url, params=query)
    _check(answer.status_code, answer.text, f"{user} GET {url} {query}")
    if 400 <= answer.status_code < 500 and not path.startswith("/api") and answer.status_code != 404:
        assert answer.headers["content-type"].startswith("text/html")


@SETTINGS
@given(data=st.data())
def test_no_route_answers_5xx_to_raw_escapes_in_its_address(
    console: Console, signed_in: dict[str, TestClient], data: st.DataObject
) -> None:
    path, _, query_fields = data.draw(st.sampled_from(_routes(console)), label="route")
    escape = data.draw(RAW_ESCAPES, label="escape")
    url = re.sub(r"\{\w+\}", f"a{escape}b", path)
    if query_fields:
        url += f"?{data.draw(st.sampled_from(query_fields))}=x{escape}y"
    client = signed_in["S67"] if not path.startswith("/api") else _api(console)
    answer = client.get(url)
    _check(answer.status_code, answer.text, f"GET {url}")


@SETTINGS
@given(data=st.data())
def test_no_console_form_answers_5xx_whatever_its_fields_hold(
    console: Console, signed_in: dict[str, TestClient], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(sorted(FORMS)), label="form")
    fields = {name: data.draw(TEXT, label=name) for name in FORMS[path] if data.draw(st.booleans())}
    client = signed_in["C67"] if path != "/connexion" else console.client()
    answer = client.post(path, data=fields)
    _check(answer.status_code, answer.text, f"POST {path} {fields}")


def test_a_nul_byte_anywhere_in_an_address_or_a_form_is_a_french_400(console: Console) -> None:
    client = console.client("S67")
    for url in ("/audit?dossier=a%00b", "/audit?acteur=%00", "/dossiers?agence=%00", "/revues?agence=a%00",
                "/calendrier/a%00b.ics", "/dossiers/a%00b"):  # fmt: skip
        answer = client.get(url)
        assert answer.status_code == 400 and "caractère de contrôle" in answer.text, url
    answer = console.client().post("/connexion", data={"identifiant": "C67\x00", "mot_de_passe": PASSWORD})
    assert answer.status_code == 400 and "« identifiant » refusé" in answer.text
    assert _api(console).get("/api/events/a%00b").json() == {
        "detail": "adresse refusée : elle contient un caractère de contrôle"
    }


def test_a_revue_number_out_of_range_is_a_french_400(console: Console) -> None:
    client = console.client("S67")
    for url in ("/revues/99999999999999999999", "/revues/2147483648", "/revues/0",
                "/revues/99999999999999999999/tableau.xlsx", "/revues/abc"):  # fmt: skip
        answer = client.get(url)
        assert answer.status_code == 400 and "Requête invalide" in answer.text, url
    assert client.get("/revues/2147483647").status_code == 200  # in range, none such: said on the page


def _api(console: Console) -> TestClient:
    client = TestClient(console.app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {console.token}"
    return client


def test_zz_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Print what the fuzzing saw (with `-s`), for the record."""
    with capsys.disabled():
        print(f"\nanswers by class: {dict(SEEN)}")
