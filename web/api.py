"""The HTTP door for events: other systems that cannot speak Celery post the documented contract
(`docs/events.schema.json`) here, authenticated by their token.

Every event posted is stored in the inbox (`workflow.application.inbox`) before the answer: `accepted`
means it is in the database and the workers will apply it (a replay is a duplicate there too),
`duplicate` that it was applied already, `rejected` that it is invalid, with the reason. The
sender learns what became of it with `GET /api/events/{event_id}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from web.auth import Calling
from web.state import Web
from workflow.adapters import metrics
from workflow.application.inbox import as_text, receive, whereabouts
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
    scheme, _, token = (authorization or "").partition(" ")
    web: Web = request.app.state.web
    if scheme.lower() == "bearer" and token:
        calling = web.tokens.system(web.sessions, token.strip())
        if calling is not None:
            return calling
    raise HTTPException(
        401, "a valid token is needed: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
    )


Caller = Annotated[Calling, Depends(caller)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid token"},
    422: {"model": Problem, "description": "the request or its event is malformed: the reason says where"},
}


def _handle(web: Web, calling: Calling, payloads: list[Any]) -> Answers:
    """Store every payload (committed), then hand the accepted ones to the workers. An event
    naming an actor the system does not speak for is rejected (`permissions.speaks_for`)."""
    system = calling.system
    items = [(f"http:{system}#{index}", as_text(data)) for index, data in enumerate(payloads)]

    def refuse(event: Event) -> Forbidden | None:
        actor = event.actor
        why = speaks_for(system, calling.partner, actor.id, actor.role)
        return None if why is None else Forbidden(actor.id, actor.role, f"envoyer {event.type}", why)

    receipt = receive(web.runtime.uow(), web.ctx, items, sender(system), refuse=refuse)
    metrics.count_received("http", receipt.stored)
    if receipt.pending:
        web.queue(receipt.routed())
    answers = [Answer(index=v.position, event_id=v.event_id, status=v.status, reason=v.reason)
               for v in receipt.verdicts]  # fmt: skip
    count = receipt.count()
    return Answers(
        accepted=count[Classification.ACCEPTED],
        duplicates=count[Classification.DUPLICATE],
        rejected=count[Classification.REJECTED],
        results=answers,
    )


def sender(system: str) -> str:
    return f"http:{system}"


@router.post(
    "/events",
    response_model=Answers,
    status_code=202,
    responses={**ERRORS, 200: {"model": Answers, "description": "a duplicate: nothing to do"}},
    summary="post one event",
)
def post_event(
    request: Request,
    calling: Caller,
    event: Annotated[dict[str, Any], Body(description="one event of the contract: docs/events.schema.json")],
) -> Any:
    answers = _handle(request.app.state.web, calling, [event])
    [answer] = answers.results
    if answer.status == Classification.REJECTED:
        return JSONResponse({"detail": answer.reason}, status_code=422)
    if answer.status == Classification.DUPLICATE:
        return JSONResponse(answers.model_dump(mode="json"), status_code=200)
    return answers


class Batch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


@router.post("/events/batch", response_model=Answers, responses=ERRORS, summary="post up to 500 events")
def post_batch(request: Request, calling: Caller, batch: Batch) -> Answers:
    """Each event is answered on its own: accepted (queued), duplicate, or rejected with its reason."""
    return _handle(request.app.state.web, calling, batch.events)


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
