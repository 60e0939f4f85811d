"""The HTTP door for events: other systems that cannot speak Celery post the documented contract
(`docs/events.schema.json`) here, authenticated by their token.

Every event posted is stored in the inbox (`workflow.application.inbox`) before the answer: `accepted`
means it is in the database and the workers will apply it (a replay is a duplicate there too),
`duplicate` that it was applied already, `rejected` that it is invalid, with the reason. The
sender learns what became of it with `GET /api/events/{event_id}`.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from web.auth import Calling
from web.state import Web
from workflow.adapters import metrics
from workflow.application.inbox import Parcel, Receipt, Routed, as_text, receive_together, whereabouts
from workflow.application.ingest import FILE_ENCODING
from workflow.domain.duplicates import Classification
from workflow.domain.errors import Forbidden
from workflow.domain.events import Event
from workflow.domain.permissions import speaks_for

router = APIRouter(prefix="/api", tags=["événements"])
MAX_BATCH = 500


class Answer(BaseModel):
    index: int = Field(description="position of the event in the request (0 for a single event)")
    event_id: str | None
    status: Classification
    reason: str | None = Field(None, description="why the event was rejected, or when it was applied")


class Answers(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[Answer]


class Problem(BaseModel):
    detail: str


class Whereabouts(BaseModel):
    event_id: str
    status: str = Field(description="pending (stored, not yet applied), applied, duplicate or rejected")
    accepted_at: datetime
    settled_at: datetime | None = Field(description="when it was applied, found a duplicate or rejected")
    reason: str | None = Field(description="why it was rejected, or when it had been applied")
    case_reference: str | None = Field(None, description="the case it applied to")
    state: str | None = Field(None, description="the case's state after the event")


def caller(request: Request, authorization: Annotated[str | None, Header(max_length=300)] = None) -> Calling:
    """The calling system named by its bearer token, and whom it speaks for; 401 otherwise."""
    web: Web = request.app.state.web
    token = bearer(authorization)
    calling = None if token is None else web.tokens.system(web.sessions, token)
    if calling is None:
        raise _no_token()
    return calling


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _no_token() -> HTTPException:
    return HTTPException(
        401, "a valid token is needed: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
    )


async def calling_system(request: Request) -> Calling:
    """`caller` without the dependency machinery, for the one-event route: a token found valid
    in the last seconds is known without a thread or a query (`RecentTokens`)."""
    web: Web = request.app.state.web
    header = request.headers.get("authorization")
    token = bearer(header) if header is None or len(header) <= MAX_AUTHORIZATION else None
    if token is None:
        raise _no_token()
    calling = web.tokens.known(token) or await run_in_threadpool(web.tokens.system, web.sessions, token)
    if calling is None:
        raise _no_token()
    return calling


Caller = Annotated[Calling, Depends(caller)]
MAX_AUTHORIZATION = 300
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid token"},
    422: {"model": Problem, "description": "the request or its event is malformed: the reason says where"},
}


def store(web: Web, parcels: list[Parcel]) -> list[Receipt]:
    """What the door's committer does with the requests that waited together
    (`web.group_commit`): store them in one transaction, then wake the workers once for all."""
    receipts = receive_together(web.runtime.uow(), web.ctx, parcels)
    stored: Counter[tuple[str, str]] = Counter()
    routed: Routed = {}
    for receipt in receipts:
        stored.update(receipt.stored)
        for departement, ids in receipt.routed().items():
            routed.setdefault(departement, []).extend(ids)
    metrics.count_received("http", stored)
    metrics.DOOR_COMMITS.observe(sum(len(p.items) for p in parcels))
    if routed:
        web.queue(routed)
    return receipts


def parcel(calling: Calling, payloads: list[str]) -> Parcel:
    """The events one request carries, as JSON texts. An event naming an actor the system does
    not speak for is rejected (`permissions.speaks_for`)."""
    system = calling.system

    def refuse(event: Event) -> Forbidden | None:
        actor = event.actor
        why = speaks_for(system, calling.partner, actor.id, actor.role)
        return None if why is None else Forbidden(actor.id, actor.role, f"envoyer {event.type}", why)

    items = [(f"http:{system}#{index}", text) for index, text in enumerate(payloads)]
    return Parcel(items, sender(system), refuse)


def answers(receipt: Receipt) -> dict[str, Any]:
    """The documented `Answers`, as JSON values."""
    count = receipt.count()
    return {
        "accepted": count[Classification.ACCEPTED],
        "duplicates": count[Classification.DUPLICATE],
        "rejected": count[Classification.REJECTED],
        "results": [
            {"index": v.position, "event_id": v.event_id, "status": v.status.value, "reason": v.reason}
            for v in receipt.verdicts
        ],
    }


def body_text(body: bytes) -> str:
    """A request's body as the JSON text the inbox keeps, left for the inbox to parse (once).
    Read as a file's line is: UTF-8, a leading byte order mark dropped, bytes that are not
    UTF-8 kept as lone surrogates for the parser to refuse. A body written on several lines is
    written again on one, as every stored payload is (outside its strings, a JSON text's line
    breaks are blanks)."""
    text = body.decode(FILE_ENCODING, "surrogateescape").strip(" \t\r\n")
    if "\n" not in text and "\r" not in text:
        return text
    try:
        return as_text(json.loads(text))
    except (ValueError, RecursionError):
        return text  # refused by the inbox, with the reason


def sender(system: str) -> str:
    return f"http:{system}"


# The one-event route reads its body and header itself (the lean path every event sent alone
# takes); the document says what the dependency machinery would have said.
POST_EVENT_DOC: dict[str, Any] = {
    "parameters": [{
        "name": "authorization", "in": "header", "required": False,
        "schema": {"anyOf": [{"type": "string", "maxLength": MAX_AUTHORIZATION}, {"type": "null"}],
                   "title": "Authorization"},
    }],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": True,
        "description": "one event of the contract: docs/events.schema.json", "title": "Event",
    }}}},
}  # fmt: skip


@router.post(
    "/events",
    response_model=Answers,
    status_code=202,
    responses={**ERRORS, 200: {"model": Answers, "description": "a duplicate: nothing to do"}},
    summary="post one event",
    openapi_extra=POST_EVENT_DOC,
)
async def post_event(request: Request) -> Response:
    """Answered once the event is stored: 202 accepted (the workers apply it), 200 a duplicate,
    422 rejected with the reason."""
    # Stored with the other requests of its moment, in one transaction (`web.group_commit`).
    calling = await calling_system(request)
    web: Web = request.app.state.web
    receipt = await web.door.submit(parcel(calling, [body_text(await request.body())]))
    [verdict] = receipt.verdicts
    if verdict.status == Classification.REJECTED:
        return JSONResponse({"detail": verdict.reason}, status_code=422)
    status = 200 if verdict.status == Classification.DUPLICATE else 202
    return JSONResponse(answers(receipt), status_code=status)


class Batch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


@router.post("/events/batch", response_model=Answers, responses=ERRORS, summary="post up to 500 events")
async def post_batch(request: Request, calling: Caller, batch: Batch) -> Response:
    """Each event is answered on its own: accepted (queued), duplicate, or rejected with its reason."""
    web: Web = request.app.state.web
    payloads = [as_text(event) for event in batch.events]
    receipt = await web.door.submit(parcel(calling, payloads), len(payloads))
    return JSONResponse(answers(receipt))


@router.get(
    "/events/{event_id}",
    response_model=Whereabouts,
    responses={**ERRORS, 404: {"model": Problem, "description": "this system never posted that event id"}},
    summary="what became of an event this system posted",
)
def get_event(
    request: Request, calling: Caller, event_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> Whereabouts:
    """Pending (stored, the workers have not applied it yet), applied (with the case and its
    state after the event), duplicate, or rejected with the reason. Only the sender's own events."""
    web: Web = request.app.state.web
    with web.sessions() as session:
        found = whereabouts(session, sender(calling.system), event_id)
    if found is None:
        raise HTTPException(404, f"no event {event_id!r} was posted by {calling.system}")
    return Whereabouts(**vars(found))
