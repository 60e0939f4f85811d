"""The service's own registers, reached through the unit of work: the directory as an import
writes it (`uow.directory`), the conventions' versions (`uow.convention_versions`), which
scheduled job ran for which period (`uow.scheduled_runs`), the revues and their decisions
(`uow.revues`), the refusals kept on record (`uow.access_denials`) and the audit's daily seals
(`uow.audit_seals`). The event path reads the directory
through `repositories.Professionals`, never these."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (
    AccessDenial,
    AuditSeal,
    Case,
    ConventionVersion,
    Professional,
    Revue,
    RevueDecision,
    ScheduledRun,
    TransitionLog,
)
from workflow.domain.errors import Forbidden


class Directory:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_id(self) -> dict[str, Professional]:
        return {p.id: p for p in self.session.scalars(select(Professional))}

    def add(self, professional: Professional) -> None:
        self.session.add(professional)


class ConventionVersions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_key(self) -> dict[tuple[str, str], ConventionVersion]:
        """Every recorded version by (code, version)."""
        return {(r.code, r.version): r for r in self.session.scalars(select(ConventionVersion))}

    def add(self, version: ConventionVersion) -> None:
        self.session.add(version)

    def cases_pinned_to(self, version_id: int) -> int:
        """How many signed contracts keep this version's terms."""
        return self.session.scalar(select(func.count()).where(Case.convention_version_id == version_id)) or 0


class ScheduledRuns:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, run: ScheduledRun) -> None:
        self.session.add(run)

    def last(self, job: str) -> ScheduledRun | None:
        """The latest period `job` ran for, detached (read after the unit of work ends)."""
        run = self.session.scalar(
            select(ScheduledRun).where(ScheduledRun.job == job).order_by(ScheduledRun.period.desc()).limit(1)
        )
        if run is not None:
            self.session.expunge(run)
        return run


class Revues:
    def __init__(self, session: Session) -> None:
        self.session = session

    def departement_of(self, agence: str) -> str | None:
        """The département of an agency's cases (None: the agency has none)."""
        return self.session.scalar(select(Case.convention_code).where(Case.agence == agence).limit(1))

    def add(self, revue: Revue) -> None:
        self.session.add(revue)

    def get(self, revue_id: int) -> Revue | None:
        return self.session.get(Revue, revue_id)

    def decision_taken(self, revue_id: int, case_reference: str, rubrique: str) -> RevueDecision | None:
        """The decision of this revue already acted on the case under this rubrique, if any."""
        query = select(RevueDecision).where(
            RevueDecision.revue_id == revue_id,
            RevueDecision.case_reference == case_reference,
            RevueDecision.rubrique == rubrique,
        )
        return self.session.scalar(query)

    def add_decision(self, decision: RevueDecision) -> None:
        """Record an acted decision now: a second copy collides at once (its unique key)."""
        self.session.add(decision)
        self.session.flush()


class AccessDenials:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, refusal: Forbidden, at: datetime, case_reference: str | None) -> None:
        """Keep a refusal on record, in the caller's transaction."""
        self.session.add(
            AccessDenial(
                occurred_at=at,
                actor_id=refusal.actor_id[:32],
                actor_role=refusal.actor_role[:24],
                action=refusal.action,
                case_reference=case_reference,
                reason=refusal.reason[:500],
            )
        )


class AuditSeals:
    def __init__(self, session: Session) -> None:
        self.session = session

    def last(self) -> AuditSeal | None:
        return self.session.scalar(select(AuditSeal).order_by(AuditSeal.day.desc()).limit(1))

    def first_log_instant(self) -> datetime | None:
        """When the first log row was recorded (None: the log is empty)."""
        return self.session.scalar(select(func.min(TransitionLog.recorded_at)))

    def add(self, seal: AuditSeal) -> None:
        self.session.add(seal)

    def detach(self, seals: list[AuditSeal]) -> None:
        """Hand the committed seals to the caller, read after the unit of work ends."""
        for seal in seals:
            self.session.expunge(seal)
