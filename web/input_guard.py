"""Control characters never reach the database: a request that carries one in its path, its
query string or a console form is refused with a 400 and a French line saying where.

PostgreSQL refuses a NUL byte in a text value, and SQLite stores what it is given: left to the
routes, `/audit?dossier=a%00b` became a 500 on one database and a search for nothing on the
other. No field of the console or of the door's addresses has any use for a control character
(a tab, a line break: only in a form's text, where a person may paste one). The events' own
bodies are not checked here: the door refuses such an event with its reason and stores it as
rejected (`domain.events`), every byte accounted for.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a form's text may hold \t \n \r
FORM = b"application/x-www-form-urlencoded"
MAX_FORM = 64 * 1024  # the console's forms hold a few short fields


def refusal(path: str, query: bytes) -> str | None:
    """What is wrong with a request's address, in French; None if nothing."""
    if CONTROL.search(path):
        return "adresse refusée : elle contient un caractère de contrôle"
    try:
        text = query.decode("utf-8")
    except UnicodeDecodeError:
        return "paramètres refusés : ils ne sont pas en UTF-8"
    return _fields(text, CONTROL, "paramètre")


def form_refusal(body: bytes) -> str | None:
    """What is wrong with a console form's fields, in French; None if nothing."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "formulaire refusé : il n'est pas en UTF-8"
    return _fields(text, IN_TEXT, "champ")


def _fields(encoded: str, forbidden: re.Pattern[str], kind: str) -> str | None:
    try:
        pairs = parse_qsl(encoded, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return f"{kind}s refusés : ils ne sont pas en UTF-8"
    for name, value in pairs:
        if forbidden.search(name) or forbidden.search(value):
            shown = CONTROL.sub("?", name)[:40]
            return f"{kind} « {shown} » refusé : il contient un caractère de contrôle"
    return None


class InputGuard:
    """A plain ASGI middleware (see `web.app.SecurityHeaders` for why not Starlette's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        why = refusal(path, scope.get("query_string", b""))
        if why is None and scope["method"] == "POST" and _is_form(scope) and not path.startswith("/api"):
            body, too_long = await _read(receive, MAX_FORM)
            why = "formulaire refusé : trop long" if too_long else form_refusal(body)
            receive = _replay(body)
        if why is None:
            await self.app(scope, receive, send)
        else:
            await _refuse(send, path, why)


def _is_form(scope: Scope) -> bool:
    return any(k == b"content-type" and v.split(b";")[0].strip() == FORM for k, v in scope["headers"])


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", True  # the client left: nothing to answer
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return b"", True
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _refuse(send: Send, path: str, why: str) -> None:
    if path.startswith("/api"):
        body, kind = json.dumps({"detail": why}, ensure_ascii=False).encode(), b"application/json"
    else:
        page = (
            '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Requête refusée</title>'
            f'<p>{html.escape(why)}</p><p><a href="/dossiers">Retour aux dossiers</a></p>'
        )
        body, kind = page.encode(), b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
