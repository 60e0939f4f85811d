"""The integration contract: events from other systems, one JSON object per line.

Every event has `event_id` (unique: a replay changes nothing), `type`, `occurred_at` (ISO 8601
with an offset), the acting professional (`actor`: id and role) and the type's own fields.
`accompagnement events schema` prints the JSON Schema generated from these models.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from workflow.vocabulary import (
    AppointmentKind,
    DiagnosticKind,
    ExitReason,
    Opinion,
    Origin,
    PersonStatus,
    ProfessionalBarrier,
    RenewalDecidedBy,
    Role,
    SocialBarrier,
)

Identifier = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")]
CaseRef = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActorRef(_Strict):
    id: Identifier
    role: Role


class _Event(_Strict):
    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    occurred_at: AwareDatetime
    actor: ActorRef


class _CaseEvent(_Event):
    case_ref: CaseRef


class PersonData(_Strict):
    ft_identifier: Identifier
    status: PersonStatus
    registered: bool
    departement: Annotated[str, Field(pattern=r"^(\d{2,3}|2A|2B)$")]
    agence: Annotated[str, Field(min_length=1, max_length=64)]


class Barriers(_Strict):
    social: list[SocialBarrier] = []
    professional: list[ProfessionalBarrier] = []

    def codes(self) -> list[str]:
        return sorted({str(b) for b in [*self.social, *self.professional]})


class OrientationProposed(_CaseEvent):
    """A professional or a platform proposes the person for accompagnement global."""

    type: Literal["orientation_proposed"]
    person: PersonData
    convention: Annotated[str | None, Field(description="département code; default the person's")] = None
    origin: Origin
    barriers: Barriers
    other_barrier_agreed: bool = False
    consent: bool = False


class BinomeAssigned(_CaseEvent):
    type: Literal["binome_assigned"]
    conseiller_id: Identifier
    referent_social_id: Identifier


class ConsentRecorded(_CaseEvent):
    """The person's libre adhésion, given or withdrawn."""

    type: Literal["consent_recorded"]
    consent: bool


class AppointmentPlanned(_CaseEvent):
    type: Literal["appointment_planned"]
    appointment_id: Identifier
    kind: AppointmentKind
    planned_at: AwareDatetime
    professional_id: Identifier | None = None


class _AppointmentOutcome(_CaseEvent):
    appointment_id: Identifier


class AppointmentHeld(_AppointmentOutcome):
    type: Literal["appointment_held"]


class AppointmentMissed(_AppointmentOutcome):
    type: Literal["appointment_missed"]


class AppointmentExcused(_AppointmentOutcome):
    type: Literal["appointment_excused"]


class DiagnosticDone(_CaseEvent):
    type: Literal["diagnostic_done"]
    kind: DiagnosticKind
    conseiller_opinion: Opinion | None = None
    referent_opinion: Opinion | None = None
    barriers: Barriers | None = Field(default=None, description="replaces the barriers if given")


class ContractSigned(_CaseEvent):
    type: Literal["contract_signed"]
    referent_social_id: Identifier = Field(description="the référent social named in the contract")
    signed_on: date | None = Field(default=None, description="default: occurred_at's day in Paris")


class RenewalDecided(_CaseEvent):
    type: Literal["renewal_decided"]
    decided_by: RenewalDecidedBy
    conseiller_opinion: Opinion | None = None
    referent_opinion: Opinion | None = None
    months: Annotated[int | None, Field(ge=1, le=12)] = None


class ExitDecided(_CaseEvent):
    type: Literal["exit_decided"]
    reason: ExitReason
    effective_on: date | None = None
    ep_validated: bool = Field(default=False, description="équipe pluridisciplinaire (seed 002)")


class RegistrationEnded(_Event):
    """France Travail reports the end of the person's registration (cessation d'inscription)."""

    type: Literal["registration_ended"]
    ft_identifier: Identifier
    effective_on: date | None = None


class Radiation(_Event):
    type: Literal["radiation"]
    ft_identifier: Identifier
    effective_on: date | None = None


Event = Annotated[
    OrientationProposed
    | BinomeAssigned
    | ConsentRecorded
    | AppointmentPlanned
    | AppointmentHeld
    | AppointmentMissed
    | AppointmentExcused
    | DiagnosticDone
    | ContractSigned
    | RenewalDecided
    | ExitDecided
    | RegistrationEnded
    | Radiation,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: tuple[str, ...] = tuple(
    get_args(model.model_fields["type"].annotation)[0] for model in get_args(get_args(Event)[0])
)


class InvalidEvent(ValueError):
    """A line that is not a valid event. The message is meant for the sender."""

    def __init__(self, message: str, raw: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.raw = raw or {}


def parse_line(text: str) -> Event:
    """Parse one JSON line into an event, or raise InvalidEvent naming the field at fault.

    Files are read with `errors="surrogateescape"`, so bytes that are not UTF-8 reach this
    function as lone surrogates and are refused here, line by line, instead of stopping a file.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEvent(f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"malformed JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event is a JSON object, not {type(data).__name__}")
    return parse_object(data)


def parse_object(data: Any) -> Event:
    """Validate an already decoded event (a Celery payload, an HTTP body)."""
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    if kind is None:
        raise InvalidEvent("missing field 'type'", data)
    if kind not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})", data)
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc), data) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"][1:]]  # drop the discriminator tag
        field = ".".join(loc) or "event"
        if err["type"] == "missing":
            parts.append(f"missing field '{field}'")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unexpected field '{field}'")
        else:
            parts.append(f"field '{field}': {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def payload_digest(event: Event) -> str:
    """sha256 of the event's canonical JSON: tells a true replay from a reused event_id."""
    body = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "Accompagnement global event"
    schema["description"] = "One event per line (JSON Lines). event_id is unique: a replay changes nothing."
    return schema
