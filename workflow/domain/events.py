"""The integration contract: events from other systems, one JSON object per line.

Every event has `event_id` (unique: a replay changes nothing), `type`, `occurred_at` (ISO 8601
with an offset), the acting professional (`actor`: id and role) and the type's own fields.
`accompagnement events schema` prints the JSON Schema generated from these models.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from workflow.domain.vocabulary import (
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


# The largest line or payload taken as an event: a real one is under 2 KB. Anything longer is
# refused before it is decoded, so a crafted megabyte costs nothing but its rejection.
MAX_EVENT_BYTES = 32_768
# Dates an event may carry: the accompaniment's own years, with room on both sides. Dates far
# outside (year 1, year 9999) would overflow the deadline arithmetic (a contract + 9 months).
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
# What is echoed of a value in a reason: enough to recognise it, never the whole of a crafted one.
ECHO = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _dates_in_range(self) -> _Strict:
        for name, value in self:
            day = value.date() if isinstance(value, datetime) else value
            if isinstance(day, date) and not EARLIEST <= day <= LATEST:
                raise ValueError(
                    f"champ '{name}' : {value.isoformat()} est hors de {EARLIEST.year}-{LATEST.year}"
                )
        return self


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
    No input makes it raise anything else: a line nested a thousand levels deep, a number too
    large for a date, a NUL byte, all end as InvalidEvent with a reason.
    """
    if len(text) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"une ligne de {len(text)} caractères : un événement en a au plus {MAX_EVENT_BYTES}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEvent(f"pas de l'UTF-8 valide (octet {exc.start + 1} de la ligne)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"JSON mal formé : {exc.msg} (colonne {exc.colno})") from None
    except RecursionError:
        raise InvalidEvent("JSON mal formé : imbriqué trop profondément") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"un événement est un objet JSON, pas {_json_kind(data)}")
    return parse_object(data)


def parse_object(data: Any) -> Event:
    """Validate an already decoded event (a Celery payload, an HTTP body)."""
    if not isinstance(data, dict):
        raise InvalidEvent(f"un événement est un objet JSON, pas {_json_kind(data)}")
    try:
        _check_text(data, "")
        kind = data.get("type")
        if kind is None:
            raise InvalidEvent("champ 'type' manquant", data)
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise InvalidEvent(f"type d'événement inconnu {echo(kind)} (connus : {known})", data)
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc), data) from None
    except RecursionError:
        raise InvalidEvent("imbriqué trop profondément", data) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a validator's own fault on odd input
        if isinstance(exc, InvalidEvent):
            raise
        raise InvalidEvent(f"événement illisible ({type(exc).__name__} : {echo(str(exc))})", data) from None


# NUL and the other C0 controls have no business in an event, and PostgreSQL cannot store NUL in
# text; lone surrogates (from a \udfff escape) cannot even be encoded to store the reason.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _check_text(value: Any, path: str, depth: int = 0) -> None:
    """Refuse, naming the field, any string (key or value) holding a control or a lone surrogate."""
    if depth > 16:
        raise InvalidEvent(f"champ '{path or 'événement'}' : imbriqué trop profondément")
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _UNSTORABLE.search(key):
            raise InvalidEvent(
                f"un nom de champ contient un caractère de contrôle ou un demi-caractère : {echo(key)}"
            )
        if isinstance(item, str) and (found := _UNSTORABLE.search(item)):
            raise InvalidEvent(
                f"champ '{where}' : le caractère U+{ord(found.group()):04X} en position "
                f"{found.start() + 1} n'est pas admis (un caractère de contrôle ou un demi-caractère)"
            )
        if isinstance(item, dict | list):
            _check_text(item, where, depth + 1)


def echo(value: Any) -> str:
    """A value as quoted in a reason: its repr, cut to ECHO characters, always storable."""
    text = repr(value)
    if len(text) > ECHO:
        text = f"{text[:ECHO]}… ({len(text)} caractères)"
    return storable(text)


def storable(text: str) -> str:
    """Text any database can keep: NUL, other controls and lone surrogates written as escapes
    (a byte that was not UTF-8, read with surrogateescape, shows as \\x80)."""
    return _UNSTORABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


# What pydantic's error types mean, in the reasons people read (`_describe`); another type is
# named as it is.
_PROBLEMS = {
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu",
    "bool_type": "true ou false attendu",
    "bool_parsing": "true ou false attendu",
    "list_type": "liste attendue",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
    "model_attributes_type": "objet attendu",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_inexact": "date attendue (AAAA-MM-JJ), sans heure",
    "datetime_type": "date et heure attendues (ISO 8601 avec fuseau)",
    "datetime_parsing": "date et heure attendues (ISO 8601 avec fuseau)",
    "datetime_from_date_parsing": "date et heure attendues (ISO 8601 avec fuseau)",
    "datetime_object_invalid": "date et heure impossibles",
    "timezone_aware": "l'heure doit porter son fuseau (par exemple +01:00)",
    "string_too_long": "texte trop long",
    "string_too_short": "texte trop court",
    "string_pattern_mismatch": "forme inattendue",
    "too_long": "trop d'éléments",
    "too_short": "pas assez d'éléments",
    "literal_error": "valeur inconnue",
    "enum": "valeur inconnue",
    "union_tag_invalid": "valeur inconnue",
    "greater_than": "nombre trop petit",
    "greater_than_equal": "nombre trop petit",
    "less_than": "nombre trop grand",
    "less_than_equal": "nombre trop grand",
    "finite_number": "nombre fini attendu",
}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"][1:]]  # drop the discriminator tag
        field = ".".join(loc) or "événement"
        kind = err["type"]
        if kind == "missing":
            parts.append(f"champ '{field}' manquant")
        elif kind == "extra_forbidden":
            parts.append(f"champ inattendu {echo(field)}")
        elif kind == "value_error":  # one of our validators: its message is already French
            parts.append(echo(err["msg"])[1:-1].removeprefix("Value error, "))
        else:
            expected = (err.get("ctx") or {}).get("expected")
            problem = _PROBLEMS.get(kind, f"valeur refusée ({kind})")
            if expected is not None:
                problem = f"{problem} (attendu : {echo(str(expected))[1:-1]})"
            parts.append(f"champ '{field}' : {problem}, reçu {echo(err.get('input'))}")
    return " ; ".join(parts)


def _json_kind(data: Any) -> str:
    """What a JSON value is, in French: « une liste », « un texte »…"""
    kinds = {list: "une liste", str: "un texte", int: "un nombre", float: "un nombre", bool: "un booléen"}
    return "null" if data is None else kinds.get(type(data), type(data).__name__)


def payload_digest(event: Event) -> str:
    """sha256 of the event's canonical JSON: tells a true replay from a reused event_id."""
    body = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "Accompagnement global event"
    schema["description"] = "One event per line (JSON Lines). event_id is unique: a replay changes nothing."
    return schema


def field_of(event: Any, name: str) -> Any:
    """The event's field `name`, None if its type has none (or it is not an event): pydantic
    answers a missing attribute through an exception, several times slower than this look at
    the class's fields, and the chunk path asks each event for half a dozen fields."""
    fields = getattr(type(event), "model_fields", None)
    if fields is not None and name not in fields:
        return None
    return getattr(event, name, None)
