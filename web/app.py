"""The FastAPI application: settings, the database, sessions, and the two routers.

Settings come from the environment: ACCOMPAGNEMENT_WEB_SECRET signs the session cookies (at
least 32 characters, required), ACCOMPAGNEMENT_WEB_SECURE_COOKIES=0 allows the cookie over plain
HTTP (a test on loopback; never in production, behind TLS), the ProConnect settings
(`web.proconnect`) turn its sign-in on, and ACCOMPAGNEMENT_LOCAL_PASSWORDS=0 turns the console's
own passwords off (production, once ProConnect signs agents in).
"""

from __future__ import annotations

import functools
import html
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import api, health, pages, proconnect
from web.group_commit import GroupCommit
from web.input_guard import InputGuard
from web.proconnect import ISSUER_ENV, ProConnect
from web.rendering import templates
from web.state import NotSignedIn, PageForbidden, QueueEvents, Web
from workflow.application.inbox import Routed
from workflow.bootstrap import bootstrap
from workflow.domain.clock import Clock
from workflow.domain.errors import ConfigurationError

SECRET_ENV = "ACCOMPAGNEMENT_WEB_SECRET"
LOCAL_PASSWORDS_ENV = "ACCOMPAGNEMENT_LOCAL_PASSWORDS"
SECURE_ENV = "ACCOMPAGNEMENT_WEB_SECURE_COOKIES"
HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def queue_to_workers(rows: Routed) -> None:
    """Hand stored events to the workers: a few join the next micro-batch (`tasks.events.notify`;
    applied in this process when no broker is configured). A failure here loses nothing: the
    rows are in the inbox, and the sweep queues them."""
    from tasks.events import notify

    try:
        notify(rows)
    except Exception:
        log.exception(
            "%d ligne(s) de la boîte d'entrée non mises en file : le balayage s'en charge",
            sum(map(len, rows.values())),
        )


def create_app(
    url: str | None = None, clock: Clock | None = None, queue: QueueEvents | None = None
) -> FastAPI:
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 32:
        raise ConfigurationError(f"{SECRET_ENV} must hold a random secret of at least 32 characters")
    local_passwords = os.environ.get(LOCAL_PASSWORDS_ENV, "1") != "0"
    proconnect = ProConnect.from_env()
    if not local_passwords and proconnect is None:
        raise ConfigurationError(
            f"{LOCAL_PASSWORDS_ENV}=0 demande ProConnect ({ISSUER_ENV}) : personne ne pourrait se connecter"
        )
    app = _application(secret, proconnect.origin if proconnect else None)
    runtime = bootstrap(url, clock=clock, check_schema=False)
    web = Web(runtime, queue or queue_to_workers, proconnect=proconnect, local_passwords=local_passwords)
    web.door = GroupCommit(functools.partial(api.store, web), most=api.MAX_BATCH)
    app.state.web = web
    return app


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as served at /api/openapi.json (kept in docs/openapi.json)."""
    return _application("only-to-describe-the-routes-" + "x" * 32).openapi()


def _application(secret: str, sign_in_origin: str | None = None) -> FastAPI:
    app = FastAPI(
        title="Accompagnement global",
        version="1",
        description="Console des superviseurs et des professionnels, et porte HTTP des événements "
        "(contrat : docs/events.schema.json).",
        docs_url=None,  # served below from files installed with the package, not from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    secure = os.environ.get(SECURE_ENV, "1") != "0"
    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie="ag_session", max_age=8 * 3600,
        same_site="lax", https_only=secure,
    )  # fmt: skip
    app.add_middleware(InputGuard)
    app.add_middleware(SecurityHeaders, secure=secure, form_target=sign_in_origin)
    app.add_middleware(health.RequestTimer)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        return HTMLResponse((HERE / "templates" / "api-docs.html").read_text(encoding="utf-8"))

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(proconnect.router)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        """The database is out of reach: nothing was stored; the sender may try again shortly."""
        log.error("base de données indisponible : %s", type(exc).__name__)
        message = "la base de données est momentanément indisponible : réessayez dans une minute"
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": message}, status_code=503, headers={"Retry-After": "60"})
        return HTMLResponse(message, status_code=503, headers={"Retry-After": "60"})

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError) -> Response:
        """422 with the reason as one line (the documented `Problem`), never echoing the input:
        FastAPI's own answer repeats it, and an input JSON cannot write back (`Infinity` in a
        list where an object was due) turned the refusal into a 500. A console page answers a
        400 in French, naming the field."""
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": validation_reason(exc.errors())}, status_code=422)
        return HTMLResponse(page_refusal(exc.errors()), status_code=400)

    @app.exception_handler(NotSignedIn)
    async def _to_sign_in(request: Request, exc: NotSignedIn) -> RedirectResponse:
        return RedirectResponse(f"/connexion?suite={request.url.path}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "refus.html",
            {"message": exc.message, "user": exc.user, "csrf": request.session.get("csrf", "")},
            status_code=exc.status,
        )

    return app


def validation_reason(errors: Sequence[Any]) -> str:
    """Where and what, for each error of a request: `body.events.3: Input should be …`."""
    parts = []
    for error in errors[:10]:
        where = ".".join(str(step) for step in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return "; ".join(parts)[:1000] + more


PROBLEMS = {
    "int_parsing": "un nombre entier est attendu",
    "greater_than_equal": "nombre trop petit",
    "less_than_equal": "nombre trop grand",
    "string_too_long": "texte trop long",
    "missing": "champ obligatoire manquant",
}


def page_refusal(errors: Sequence[Any]) -> str:
    """A console request the routes cannot read: a short French page naming each field."""
    lines = []
    for error in errors[:10]:
        field = html.escape(str(error.get("loc", ("?",))[-1]))
        lines.append(f"<li>{field} : {PROBLEMS.get(error.get('type', ''), 'valeur invalide')}</li>")
    return (
        '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Requête invalide</title>'
        f"<p>Requête invalide :</p><ul>{''.join(lines)}</ul>"
        '<p><a href="/dossiers">Retour aux dossiers</a></p>'
    )


# Pages load nothing from elsewhere and run no inline script; Swagger UI sets inline styles.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeaders:
    """Headers on every answer: no framing, no sniffing, no referrer to other sites, a strict
    content policy, and HSTS when the cookies require HTTPS. A plain ASGI middleware: Starlette's
    `@app.middleware("http")` runs each request through a task group and a response copy of its
    own, which cost the event door a tenth of its time."""

    def __init__(self, app: ASGIApp, secure: bool, form_target: str | None = None) -> None:
        self.app = app
        self.secure = secure
        # Sign-out posts a form that ends at ProConnect: browsers apply form-action to redirects.
        extra = f" {form_target}" if form_target else ""
        self.csp = CSP.replace("form-action 'self'", f"form-action 'self'{extra}")
        self.docs_csp = DOCS_CSP.replace("form-action 'self'", f"form-action 'self'{extra}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope["path"]).startswith("/api/docs")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.docs_csp if docs else self.csp
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if self.secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, with_headers)
