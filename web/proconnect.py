"""Sign-in with ProConnect, the identity federation of the State's and the Départements' agents
(OpenID Connect: authorization code flow with PKCE, state and nonce), through authlib.

ProConnect's particulars, as its documentation for service providers gives them:
- its userinfo endpoint answers a JWT signed with the provider's keys (`application/jwt`), not
  JSON: it is verified against the provider's key set, and must name the id token's subject;
- the scopes asked: `openid email given_name usual_name siret organizational_unit uid`, and
  `acr_values=eidas1`;
- sign-out ends the session at the provider too: its `end_session_endpoint` with the id token as
  `id_token_hint`, a `state`, and the console's sign-in page as `post_logout_redirect_uri`.

The agent is matched to the directory of professionals by email, case aside: an agent with no
active professional under that address is refused with a French page, and so is a sign-in whose
`state` does not match the one this browser was given (a forged or replayed answer).

Settings (read by the door): ACCOMPAGNEMENT_PROCONNECT_ISSUER (the provider's issuer; its
discovery document is `<issuer>/.well-known/openid-configuration`), _CLIENT_ID and
_CLIENT_SECRET. The redirect URI is `<ACCOMPAGNEMENT_CONSOLE_URL>/connexion/proconnect/retour`
(the request's own address when the console's is not set), to be declared at ProConnect.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from models import Professional
from web.auth import new_csrf, open_session
from web.state import PageForbidden, Web

log = logging.getLogger(__name__)

ISSUER_ENV = "ACCOMPAGNEMENT_PROCONNECT_ISSUER"
CLIENT_ID_ENV = "ACCOMPAGNEMENT_PROCONNECT_CLIENT_ID"
CLIENT_SECRET_ENV = "ACCOMPAGNEMENT_PROCONNECT_CLIENT_SECRET"
CONSOLE_URL_ENV = "ACCOMPAGNEMENT_CONSOLE_URL"
SCOPES = "openid email given_name usual_name siret organizational_unit uid"
CALLBACK = "/connexion/proconnect/retour"
ID_TOKEN = "proconnect_id_token"  # the session's key for the id token, the hint at sign-out

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ProConnect:
    """The registered client, or None when ProConnect is not configured."""

    oauth: OAuth
    console_url: str | None
    origin: str  # the provider's scheme, host and port (the console's content policy names it)

    @classmethod
    def from_env(cls) -> ProConnect | None:
        issuer = os.environ.get(ISSUER_ENV, "").rstrip("/")
        if not issuer:
            return None
        oauth = OAuth()
        oauth.register(
            name="proconnect",
            client_id=os.environ.get(CLIENT_ID_ENV, ""),
            client_secret=os.environ.get(CLIENT_SECRET_ENV, ""),
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256"},
        )
        parts = urlsplit(issuer)
        return cls(oauth, (os.environ.get(CONSOLE_URL_ENV) or "").rstrip("/") or None,
                   f"{parts.scheme}://{parts.netloc}")  # fmt: skip

    @property
    def client(self) -> Any:
        return self.oauth.create_client("proconnect")

    def address(self, request: Request, path: str) -> str:
        base = self.console_url or str(request.base_url).rstrip("/")
        return f"{base}{path}"


def _configured(request: Request) -> tuple[Web, ProConnect]:
    web: Web = request.app.state.web
    if web.proconnect is None:
        raise PageForbidden("La connexion par ProConnect n'est pas configurée sur cette console.", None, 404)
    return web, web.proconnect


@router.get("/connexion/proconnect")
async def start(request: Request, suite: str = "/dossiers") -> RedirectResponse:
    """To ProConnect's authorization endpoint: authlib keeps the state, the nonce and the PKCE
    verifier in this browser's session."""
    _, proconnect = _configured(request)
    request.session["suite"] = suite if suite.startswith("/") and not suite.startswith("//") else "/dossiers"
    try:
        answer: RedirectResponse = await proconnect.client.authorize_redirect(
            request, proconnect.address(request, CALLBACK), acr_values="eidas1"
        )
    except Exception as exc:  # the provider out of reach: a page, not a 500
        log.error("ProConnect injoignable : %s", type(exc).__name__)
        raise PageForbidden("ProConnect ne répond pas : réessayez dans un moment.", None, 503) from None
    return answer


@router.get(CALLBACK)
async def finish(request: Request) -> RedirectResponse:
    web, proconnect = _configured(request)
    client = proconnect.client
    try:
        token = await client.authorize_access_token(request)
        claims = await _userinfo(client, token)
    except (OAuthError, JoseError, ValueError) as exc:
        log.warning("connexion ProConnect refusée : %s", type(exc).__name__)
        raise PageForbidden(
            "La connexion par ProConnect n'a pas abouti (réponse expirée, déjà utilisée ou falsifiée) : "
            "recommencez depuis la page de connexion.",
            None,
            400,
        ) from None
    email = str(claims.get("email") or "").strip()
    pro = await run_in_threadpool(_professional, web, email)
    if pro is None:
        raise PageForbidden(
            f"Aucun professionnel actif de l'annuaire n'a l'adresse {email or '(aucune)'} : "
            "demandez à votre superviseur de vous y inscrire.",
            None,
            403,
        )
    sid = await run_in_threadpool(_open, web, pro)
    suite = request.session.get("suite", "/dossiers")
    request.session.clear()  # a new session at sign-in: no fixation
    request.session.update({"sid": sid, "csrf": new_csrf(), ID_TOKEN: token["id_token"]})
    return RedirectResponse(suite, status_code=303)


async def _userinfo(client: Any, token: dict[str, Any]) -> dict[str, Any]:
    """ProConnect's userinfo: a JWT signed by the provider (JSON accepted too, as OpenID Connect
    allows), naming the id token's subject."""
    metadata = await client.load_server_metadata()
    answer = await client.get(metadata["userinfo_endpoint"], token=token)
    answer.raise_for_status()
    if answer.headers.get("content-type", "").startswith("application/jwt"):
        keys = KeySet.import_key_set(await client.fetch_jwk_set())
        claims: dict[str, Any] = dict(jwt.decode(answer.text, keys).claims)
        if claims.get("iss") not in (None, metadata.get("issuer")):
            raise ValueError("userinfo from another issuer")
        audience = claims.get("aud")
        if audience is not None and client.client_id not in (
            [audience] if isinstance(audience, str) else audience
        ):
            raise ValueError("userinfo for another client")
    else:
        claims = dict(answer.json())
    if claims.get("sub") != token["userinfo"]["sub"]:
        raise ValueError("userinfo of another subject")
    return claims


def _professional(web: Web, email: str) -> Professional | None:
    """The one active professional with this email, case aside (None if none, or several)."""
    if not email:
        return None
    with web.sessions() as session:
        found = session.scalars(
            select(Professional).where(func.lower(Professional.email) == email.lower(), Professional.active)
        ).all()
        if len(found) != 1:
            return None
        session.expunge(found[0])
        return found[0]


def _open(web: Web, pro: Professional) -> str:
    with web.sessions() as session, session.begin():
        return open_session(session, pro.id, web.clock.now())


async def end_at_provider(request: Request, id_token: str) -> RedirectResponse | None:
    """After the console's own sign-out: the redirect that ends the session at ProConnect too
    (None if ProConnect is not configured, or out of reach: the console's session is closed
    anyway)."""
    proconnect: ProConnect | None = request.app.state.web.proconnect
    if proconnect is None:
        return None
    try:
        answer: RedirectResponse = await proconnect.client.logout_redirect(
            request,
            post_logout_redirect_uri=proconnect.address(request, "/connexion"),
            id_token_hint=id_token,
        )
    except Exception as exc:
        log.error("déconnexion ProConnect non atteinte : %s", type(exc).__name__)
        return None
    answer.status_code = 303
    return answer
