"""The service's own registers, reached through the unit of work: the directory as an import
writes it (`uow.directory`), the conventions' versions (`uow.convention_versions`) and which
scheduled job ran for which period (`uow.scheduled_runs`). The event path reads the directory
through `repositories.Professionals`, never these."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, ConventionVersion, Professional, ScheduledRun


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
