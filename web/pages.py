"""The console's pages, in French, server-rendered; each shows only what the reader may see
(`workflow.domain.permissions`): a professional their binômes' cases, a superviseur their département."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models import CalendarFeed, Professional, Revue
from web import proconnect
from web.auth import (
    calendar_owner,
    close_session,
    create_calendar_token,
    csrf_ok,
    new_csrf,
    open_session,
    session_user,
    sign_in,
)
from web.rendering import templates
from web.state import NotSignedIn, PageForbidden, Web
from workflow.adapters import ics, revue_files
from workflow.application import access
from workflow.application.audit import export as log_export
from workflow.application.indicators import Quarter, chart_png, compute
from workflow.application.queries import console as queries
from workflow.application.queries.calendar import waiting_deadlines
from workflow.application.queries.case_view import case_view
from workflow.application.queries.point_in_time import portfolio_at
from workflow.application.revue import recipients as revue_recipients
from workflow.application.revue.production import SECTIONS
from workflow.domain import labels, permissions
from workflow.domain.clock import today
from workflow.domain.errors import Forbidden, NotFound, WorkflowError
from workflow.domain.lifecycle import TRIGGERS, State
from workflow.domain.vocabulary import Role

router = APIRouter(include_in_schema=False)


def web_of(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def current_user(request: Request) -> Professional:
    """The professional of a live server-side session; a revoked or expired one signs out."""
    token = request.session.get("sid")
    if not token:
        raise NotSignedIn()
    web = web_of(request)
    with web.sessions() as session:
        pid = session_user(session, token, web.clock.now())
        pro = session.get(Professional, pid) if pid else None
        if pro is None or not pro.active:
            request.session.clear()
            raise NotSignedIn()
        session.expunge(pro)
    return pro


User = Annotated[Professional, Depends(current_user)]


def _render(request: Request, name: str, user: Professional | None, **context: Any) -> HTMLResponse:
    if "csrf" not in request.session:
        request.session["csrf"] = new_csrf()
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf": request.session["csrf"], **context}
    )


def _refuse(
    request: Request, user: Professional, action: str, reference: str | None, why: str
) -> PageForbidden:
    """Record the refusal (`access_denial`), and the page that says it."""
    web = web_of(request)
    refusal = Forbidden(user.id, user.role, action, why)
    with web.sessions() as session, session.begin():
        access.record(session, refusal, web.clock.now(), reference)
    return PageForbidden(f"Accès refusé : {why}.", user)


# --- sign-in ------------------------------------------------------------------------------


@router.get("/connexion", response_class=HTMLResponse)
def sign_in_form(request: Request, suite: str = "/dossiers") -> HTMLResponse:
    return _sign_in_page(request, suite, None)


def _sign_in_page(request: Request, suite: str, erreur: str | None) -> HTMLResponse:
    web = web_of(request)
    return _render(request, "connexion.html", None, suite=_local(suite), erreur=erreur,
                   proconnect=web.proconnect is not None, mots_de_passe=web.local_passwords)  # fmt: skip


@router.post("/connexion", response_model=None)
def sign_in_post(
    request: Request,
    identifiant: Annotated[str, Form(max_length=32)],
    mot_de_passe: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    suite: Annotated[str, Form(max_length=300)] = "/dossiers",
) -> Response:
    web = web_of(request)
    if not web.local_passwords:
        raise PageForbidden(
            "Les mots de passe de la console sont désactivés : connectez-vous avec ProConnect."
        )
    if not csrf_ok(request.session.get("csrf"), csrf):
        return _sign_in_page(request, suite, "Formulaire expiré : réessayez.")
    client = request.client.host if request.client else "unknown"
    now = web.clock.now()
    with web.sessions() as session, session.begin():
        pro = sign_in(session, identifiant.strip(), mot_de_passe, client, now)
        sid = open_session(session, pro.id, now) if pro else None
    if sid is None:
        message = "Identifiant ou mot de passe incorrect, ou compte verrouillé après plusieurs échecs."
        return _sign_in_page(request, suite, message)
    request.session.clear()  # a new session at sign-in: no fixation
    request.session.update({"sid": sid, "csrf": new_csrf()})
    return RedirectResponse(_local(suite), status_code=303)


@router.post("/deconnexion")
async def sign_out(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> RedirectResponse:
    """Revokes the session on the server: the cookie, even copied elsewhere, no longer signs in.
    Signed in with ProConnect, the agent's session there ends too."""
    if not csrf_ok(request.session.get("csrf"), csrf):
        return RedirectResponse("/connexion", status_code=303)
    web = web_of(request)
    if sid := request.session.get("sid"):
        await run_in_threadpool(_close, web, sid)
    id_token = request.session.get(proconnect.ID_TOKEN)
    request.session.clear()
    at_provider = await proconnect.end_at_provider(request, id_token) if id_token else None
    return at_provider or RedirectResponse("/connexion", status_code=303)


def _close(web: Web, sid: str) -> None:
    with web.sessions() as session, session.begin():
        close_session(session, sid, web.clock.now())


def _local(path: str) -> str:
    """Only a path of this site after sign-in, never another site."""
    return path if path.startswith("/") and not path.startswith("//") else "/dossiers"


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/dossiers", status_code=303)


# --- my cases -------------------------------------------------------------------------------


@router.get("/dossiers", response_class=HTMLResponse)
def my_cases(
    request: Request,
    user: User,
    etat: Annotated[str, Query(max_length=20)] = "ouverts",
    agence: Annotated[str | None, Query(max_length=64)] = None,
    tri: Annotated[str, Query(max_length=20)] = "echeance",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    known = {queries.OPEN, queries.ALL} | {s.value for s in State}
    state = etat if etat in known else queries.OPEN
    tri = tri if tri in queries.SORTS else queries.DEFAULT_SORT
    web = web_of(request)
    with web.sessions() as session:
        found = queries.cases_page(session, user, state, agence, tri, page)
        upcoming = queries.next_deadlines(session, web.ctx, found.rows)
        agencies = queries.agencies(session, user)
    params = {"etat": state, "agence": agence or "", "tri": tri}
    return _render(
        request, "dossiers.html", user, rows=found.rows, total=found.total, page=page, pages=found.pages,
        params=params, query=urlencode(params), states=list(State), agencies=agencies, upcoming=upcoming,
    )  # fmt: skip


@router.get("/dossiers/{reference}", response_class=HTMLResponse)
def one_case(
    request: Request, user: User, reference: str, au: Annotated[str | None, Query(max_length=10)] = None
) -> HTMLResponse:
    """The case now, or with `au` as it stood at the end of that day (rebuilt from the log)."""
    web = web_of(request)
    problems: list[str] = []
    at = _day(au, "au", problems)
    with web.sessions() as session:
        case = queries.case_by_reference(session, reference)
        if case is None:
            return _render(request, "refus.html", user, message=f"Aucun dossier {reference}.")
        if not permissions.may_read(user, case):
            raise _refuse(
                request, user, "read", reference, f"le dossier {reference} n'est pas l'un des vôtres"
            )
        try:
            view = case_view(session, web.ctx, reference, at=at)
        except NotFound as not_yet:  # the day asked is before the case was opened
            problems.append(str(not_yet))
            view = case_view(session, web.ctx, reference)
    return _render(request, "dossier.html", user, case=view, problems=problems, au=au or "")


# --- my calendar ----------------------------------------------------------------------------

CASEWORKERS = frozenset({Role.CONSEILLER, Role.REFERENT_SOCIAL})


@router.get("/calendrier", response_class=HTMLResponse)
def my_calendar(request: Request, user: User) -> HTMLResponse:
    with web_of(request).sessions() as session:
        subscribed = session.get(CalendarFeed, user.id) is not None
    return _render(
        request, "calendrier.html", user, lien=None, abonne=subscribed, possible=user.role in CASEWORKERS
    )


@router.post("/calendrier", response_class=HTMLResponse)
def new_calendar_link(
    request: Request, user: User, csrf: Annotated[str, Form(max_length=100)] = ""
) -> HTMLResponse:
    """A new subscription address, shown once; the previous one stops working."""
    if user.role not in CASEWORKERS or not csrf_ok(request.session.get("csrf"), csrf):
        return my_calendar(request, user)
    web = web_of(request)
    with web.sessions() as session, session.begin():
        token = create_calendar_token(session, user.id, web.clock.now())
    link = str(request.url_for("calendar_feed", token=token))
    return _render(request, "calendrier.html", user, lien=link, abonne=True, possible=True)


@router.get("/calendrier/{token}.ics", name="calendar_feed")
def calendar_feed(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    """The feed a calendar program fetches: the token in the address is its only credential."""
    web = web_of(request)
    with web.sessions() as session:
        owner = calendar_owner(session, token)
        if owner is None:
            return Response("calendrier inconnu ou remplacé", status_code=404, media_type="text/plain")
        deadlines = waiting_deadlines(session, web.ctx, owner.id)
        name = owner.name
    return Response(
        ics.feed(name, deadlines, web.clock.now()), media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )  # fmt: skip


# --- audit ----------------------------------------------------------------------------------


def _audit_filter(
    request: Request,
    user: User,
    dossier: Annotated[str | None, Query(max_length=40)] = None,
    acteur: Annotated[str | None, Query(max_length=32)] = None,
    role: Annotated[str | None, Query(max_length=24)] = None,
    transition: Annotated[str | None, Query(max_length=32)] = None,
    motif: Annotated[str | None, Query(max_length=40)] = None,
    agence: Annotated[str | None, Query(max_length=64)] = None,
    depuis: Annotated[str | None, Query(max_length=10)] = None,
    jusqu: Annotated[str | None, Query(max_length=10)] = None,
) -> log_export.LogFilter:
    """The search form as sent: empty fields mean no filter; a wrong value is said on the page
    (`request.state.problems`) and left out, rather than answered with an error page."""
    problems: list[str] = []
    request.state.problems = problems
    if role and role not in {r.value for r in Role}:
        problems.append(f"rôle inconnu : {role}")
        role = None
    return log_export.LogFilter(
        case_reference=dossier or None, actor_id=acteur or None, actor_role=role or None,
        trigger=transition or None, reason=motif or None, agence=agence or None,
        since=_day(depuis, "depuis", problems), until=_day(jusqu, "jusqu'au", problems), reader=user,
    )  # fmt: skip


def _day(text: str | None, label: str, problems: list[str]) -> date | None:
    """The day typed in a filter field; a blank field (spaces included) asks for none."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return labels.parse_day(text)
    except ValueError:
        problems.append(f"date « {label} » illisible : {text} (attendu JJ/MM/AAAA)")
        return None


Filter = Annotated[log_export.LogFilter, Depends(_audit_filter)]


@router.get("/audit", response_class=HTMLResponse)
def audit_search(
    request: Request, user: User, flt: Filter, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    with web_of(request).sessions() as session:
        found = queries.log_page(session, flt, page)
    args = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return _render(
        request, "audit.html", user, rows=found.rows, total=found.total, page=page, pages=found.pages,
        params=args, query=urlencode(args), roles=list(Role), triggers=("orienter", *TRIGGERS),
        reasons=labels.EXIT_REASONS, problems=request.state.problems,
    )  # fmt: skip


@router.get("/audit.csv")
def audit_csv(request: Request, user: User, flt: Filter) -> Response:
    """Every row the search finds, all pages, in the order they happened (the chain's order; the
    page shows them newest first), for French Excel."""
    buffer = io.StringIO(newline="")
    with web_of(request).sessions() as session:
        log_export.write_export(log_export.export_rows(session, flt), buffer, "excel")
    return Response(
        buffer.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="journal.csv"'},
    )  # fmt: skip


# --- revues ---------------------------------------------------------------------------------


@router.get("/revues", response_class=HTMLResponse)
def revues(
    request: Request, user: User, agence: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    with web_of(request).sessions() as session:
        allowed = revue_recipients.revue_agencies(session, user)
        rows = queries.revues(session, revue_recipients.readable_revues(user), agence)
    return _render(request, "revues.html", user, revues=rows, agencies=allowed, agence=agence or "")


# A revue's number as its column holds it (PostgreSQL's integer): a larger one is refused at the
# door, in French, rather than by the database.
RevueId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _revue(request: Request, user: Professional, revue_id: int) -> Revue:
    with web_of(request).sessions() as session:
        revue = session.get(Revue, revue_id)
        if revue is None:
            raise NotFound(f"aucune revue {revue_id}")
        readable = revue_recipients.readable_revues(user)
        if session.scalar(select(Revue.id).where(Revue.id == revue_id, readable)) is None:
            raise _refuse(
                request, user, "read", None, f"la revue de l'agence {revue.agence} n'est pas la vôtre"
            )
        session.expunge(revue)
    return revue


@router.get("/revues/{revue_id}", response_class=HTMLResponse)
def one_revue(request: Request, user: User, revue_id: RevueId) -> HTMLResponse:
    try:
        revue = _revue(request, user, revue_id)
    except NotFound as exc:
        return _render(request, "refus.html", user, message=str(exc))
    return _render(request, "revue.html", user, revue=revue, sections=SECTIONS)


@router.get("/revues/{revue_id}/tableau.xlsx")
def revue_xlsx(request: Request, user: User, revue_id: RevueId) -> Response:
    try:
        revue = _revue(request, user, revue_id)
    except NotFound as exc:
        return Response(str(exc), status_code=404)
    name = f"{revue_files.file_stem(revue)}.xlsx"
    return Response(
        revue_files.xlsx_bytes(revue),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- portfolio ------------------------------------------------------------------------------

PORTFOLIO_READERS = frozenset({Role.SUPERVISEUR, Role.OPERATEUR, Role.CONSEILLER})


@router.get("/portefeuille", response_class=HTMLResponse)
def portfolio(
    request: Request,
    user: User,
    agence: Annotated[str | None, Query(max_length=64)] = None,
    conseiller: Annotated[str | None, Query(max_length=32)] = None,
    au: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The open cases of an agency or of a conseiller at the end of a day, rebuilt from the log
    (`portfolio` on the command line): a superviseur for their département, the operator for
    any, a conseiller for their own agency or themselves."""
    if user.role not in PORTFOLIO_READERS:
        raise _refuse(
            request, user, "read", None, "le portefeuille se lit par un conseiller ou un superviseur"
        )
    web = web_of(request)
    problems: list[str] = []
    day = _day(au, "au", problems) or today(web.clock)
    with web.sessions() as session:
        allowed = queries.agencies(session, user) if user.role != Role.CONSEILLER else [user.agence or ""]
        found = None
        if agence and conseiller:
            problems.append("choisissez une agence ou un conseiller, pas les deux")
        elif agence and agence not in allowed:
            raise _refuse(request, user, "read", None, f"l'agence {agence} n'est pas la vôtre")
        elif conseiller and not _may_see_conseiller(session, user, conseiller):
            raise _refuse(request, user, "read", None, f"le portefeuille de {conseiller} n'est pas le vôtre")
        elif agence or conseiller:
            try:
                found = portfolio_at(
                    session, web.ctx, day, agence=agence or None, conseiller=conseiller or None
                )
            except NotFound as exc:
                problems.append(str(exc))
    return _render(
        request, "portefeuille.html", user, found=found, agencies=allowed, agence=agence or "",
        conseiller=conseiller or "", au=au or "", problems=problems,
    )  # fmt: skip


def _may_see_conseiller(session: Session, user: Professional, pid: str) -> bool:
    """A conseiller sees their own portfolio; a superviseur those of their département; the
    operator any."""
    if user.role == Role.OPERATEUR:
        return True
    if user.role == Role.CONSEILLER:
        return pid == user.id
    pro = session.get(Professional, pid)
    return pro is not None and pro.departement == user.departement


# --- indicators -----------------------------------------------------------------------------


def _quarter(text: str | None, web: Web) -> Quarter:
    try:
        return Quarter.parse(text) if text else Quarter.of(web.clock.now().date()).previous
    except WorkflowError:
        return Quarter.of(web.clock.now().date()).previous


def _scope(user: Professional, departement: str | None, web: Web) -> str | None:
    """A superviseur and a professional see their département's figures; the operator any that
    has a convention (another is refused with the known ones)."""
    if user.role != Role.OPERATEUR:
        return user.departement
    codes = web.ctx.book.codes()
    if departement and departement not in codes:
        known = ", ".join(sorted(codes))
        raise PageForbidden(f"Département inconnu : {departement} (connus : {known}).", user, status=400)
    return departement or None


@router.get("/indicateurs", response_class=HTMLResponse)
def indicators(
    request: Request,
    user: User,
    trimestre: Annotated[str | None, Query(max_length=8)] = None,
    departement: Annotated[str | None, Query(max_length=3)] = None,
) -> HTMLResponse:
    web = web_of(request)
    quarter = _quarter(trimestre, web)
    scope = _scope(user, departement, web)
    with web.sessions() as session:
        figures = compute(session, web.ctx.book, quarter, scope)
    terms = web.ctx.book.in_force(scope, quarter.start).terms if scope else None
    query = urlencode({"trimestre": str(quarter), "departement": scope or ""})
    return _render(
        request, "indicateurs.html", user, figures=figures, quarter=quarter, query=query, terms=terms
    )


@router.get("/indicateurs/graphique.png")
def indicators_chart(
    request: Request,
    user: User,
    trimestre: Annotated[str | None, Query(max_length=8)] = None,
    departement: Annotated[str | None, Query(max_length=3)] = None,
) -> Response:
    web = web_of(request)
    with web.sessions() as session:
        figures = compute(session, web.ctx.book, _quarter(trimestre, web), _scope(user, departement, web))
    return Response(chart_png(figures), media_type="image/png")
