"""What a guard and an effect see: the case's terms and the decision being attempted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflow.domain.conventions import Terms
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, Opinion, RenewalDecidedBy, Role


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role


@dataclass(frozen=True)
class Attempt:
    """One decision on one case: who, when, under which terms, with which data.

    `on` is the calendar day the decision takes effect (Europe/Paris); `occurred_at` is the
    instant the source system reported. Fields that do not concern a trigger stay None.
    """

    actor: Actor
    occurred_at: datetime
    on: date
    terms: Terms
    convention_version_id: int
    event_id: str | None = None
    conseiller_id: str | None = None
    referent_social_id: str | None = None
    consent: bool | None = None
    barriers: tuple[str, ...] | None = None  # established by the diagnostic, replacing the case's
    diagnostic_kind: DiagnosticKind | None = None
    conseiller_opinion: Opinion | None = None
    referent_opinion: Opinion | None = None
    renewal_by: RenewalDecidedBy | None = None
    renewal_months: int | None = None
    exit_reason: ExitReason | None = None
    ep_validated: bool = False
    revue_id: int | None = None  # the revue de portefeuille that took the decision, if any
    extra: dict[str, Any] = field(default_factory=dict)  # kept in the log row's details
