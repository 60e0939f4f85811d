"""What the rules know of a case, a person and a professional: protocols of the fields they read
and write, not the tables that store them.

The domain holds no ORM class: the service hands the rules its rows (`models.Case` has every
field below), a replay hands them a `RebuiltCase` made from log rows, a unit test a plain object.
Whatever has these fields is a case to the rules; the adapters decide where it lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol


class PersonFields(Protocol):
    """The person a guard reads: still registered with France Travail, and which allocation."""

    @property
    def registered(self) -> bool: ...
    @property
    def status(self) -> str: ...


class CaseFields(Protocol):
    """A case as the lifecycle moves it: its state, its binôme, its dates and the head of its
    log. The effects write these; the guards, deadlines and reminder rules read them."""

    reference: str
    convention_code: str
    convention_version_id: int | None
    agence: str
    state: str
    conseiller_id: str | None
    referent_social_id: str | None
    orienteur_id: str
    origin: str
    consent: bool
    barriers: list[str]
    other_barrier_agreed: bool
    diagnostic_kind: str | None
    conseiller_opinion: str | None
    referent_opinion: str | None
    orientation_date: date
    diagnostic_date: date | None
    contract_start: date | None
    contract_end: date | None
    renewal_count: int
    renewal_date: date | None
    exit_date: date | None
    exit_reason: str | None
    revue_flag: str | None
    revue_flagged_on: date | None
    entry_acted_on: date | None
    exit_acted_on: date | None
    next_reminder_on: date | None
    log_seq: int
    log_hash: str | None


class CaseRecord(CaseFields, Protocol):
    """A stored case, with its person: what a decision's guards need (a rebuilt case has no
    person, and a replay runs no guard)."""

    @property
    def person(self) -> PersonFields: ...


class ProfessionalFields(Protocol):
    """A professional as the permission table sees them."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def departement(self) -> str: ...


@dataclass
class RebuiltCase:
    """A case played again from its log rows (`workflow.domain.log_replay`): the fields a
    decision sets, nothing read from the database."""

    reference: str
    convention_code: str
    agence: str
    state: str
    orienteur_id: str
    origin: str
    orientation_date: date
    consent: bool = False
    convention_version_id: int | None = None
    conseiller_id: str | None = None
    referent_social_id: str | None = None
    barriers: list[str] = field(default_factory=list)
    other_barrier_agreed: bool = False
    diagnostic_kind: str | None = None
    conseiller_opinion: str | None = None
    referent_opinion: str | None = None
    diagnostic_date: date | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    renewal_count: int = 0
    renewal_date: date | None = None
    exit_date: date | None = None
    exit_reason: str | None = None
    revue_flag: str | None = None
    revue_flagged_on: date | None = None
    entry_acted_on: date | None = None
    exit_acted_on: date | None = None
    next_reminder_on: date | None = None
    log_seq: int = 0
    log_hash: str | None = None
