"""The HTTP door for events: other systems that cannot speak Celery post the documented contract
(`docs/events.schema.json`) here, authenticated by their token.

Each event is validated as the file ingestion validates it; a valid one is queued to the workers
(which apply it once: a replay is a duplicate there too), an event id already applied is answered
`duplicate` at once, an invalid one is `rejected` with its reason and nothing of it is stored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from models import ProcessedEvent
from web.app import Web
from web.auth import calling_system
from workflow.events import InvalidEvent, parse_object, payload_digest

router = APIRouter(prefix="/api", tags=["événements"])
MAX_BATCH = 500


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Answer(BaseModel):
    index: int = Field(description="position of the event in the request (0 for a single event)")
    event_id: str | None
    status: Status
    reason: str | None = Field(None, description="why the event was rejected, or when it was applied")


class Answers(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[Answer]


class Problem(BaseModel):
    detail: str


def caller(request: Request, authorization: Annotated[str | None, Header(max_length=300)] = None) -> str:
    """The calling system named by its bearer token; 401 otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    web: Web = request.app.state.web
    if scheme.lower() == "bearer" and token:
        with web.sessions() as session:
            system = calling_system(session, token.strip())
        if system is not None:
            return system
    raise HTTPException(
        401, "a valid token is needed: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
    )


Caller = Annotated[str, Depends(caller)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid token"},
    422: {"model": Problem, "description": "the request or its event is malformed: the reason says where"},
}


def _answer(web: Web, index: int, data: Any) -> tuple[Answer, dict[str, Any] | None]:
    try:
        event = parse_object(data)
    except InvalidEvent as exc:
        event_id = (
            data.get("event_id") if isinstance(data, dict) and isinstance(data.get("event_id"), str) else None
        )
        return Answer(index=index, event_id=event_id, status=Status.REJECTED, reason=str(exc)), None
    with web.sessions() as session:
        seen = session.get(ProcessedEvent, event.event_id)
    if seen is not None:
        if seen.payload_sha256 != payload_digest(event):
            why = f"event_id {event.event_id} was already used by a different {seen.type} event"
            return Answer(index=index, event_id=event.event_id, status=Status.REJECTED, reason=why), None
        when = f"already applied on {seen.applied_at.isoformat()}"
        return Answer(index=index, event_id=event.event_id, status=Status.DUPLICATE, reason=when), None
    return Answer(index=index, event_id=event.event_id, status=Status.ACCEPTED), data


def _handle(web: Web, system: str, items: list[Any]) -> Answers:
    answers, queued = [], []
    for index, data in enumerate(items):
        answer, event = _answer(web, index, data)
        answers.append(answer)
        if event is not None:
            queued.append(event)
    if queued:
        web.queue(queued, system)
    count = {status: sum(a.status == status for a in answers) for status in Status}
    return Answers(
        accepted=count[Status.ACCEPTED], duplicates=count[Status.DUPLICATE], rejected=count[Status.REJECTED],
        results=answers,
    )  # fmt: skip


@router.post(
    "/events",
    response_model=Answers,
    status_code=202,
    responses={**ERRORS, 200: {"model": Answers, "description": "a duplicate: nothing to do"}},
    summary="post one event",
)
def post_event(
    request: Request,
    system: Caller,
    event: Annotated[dict[str, Any], Body(description="one event of the contract: docs/events.schema.json")],
) -> Any:
    answers = _handle(request.app.state.web, system, [event])
    [answer] = answers.results
    if answer.status == Status.REJECTED:
        return JSONResponse({"detail": answer.reason}, status_code=422)
    if answer.status == Status.DUPLICATE:
        return JSONResponse(answers.model_dump(mode="json"), status_code=200)
    return answers


class Batch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


@router.post("/events/batch", response_model=Answers, responses=ERRORS, summary="post up to 500 events")
def post_batch(request: Request, system: Caller, batch: Batch) -> Answers:
    """Each event is answered on its own: accepted (queued), duplicate, or rejected with its reason."""
    return _handle(request.app.state.web, system, batch.events)
