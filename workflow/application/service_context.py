"""What every service call needs, built once per process: the clock and the conventions
(recorded in the database with `sync_book`, so that a signed case can pin its terms).

Kept apart from the service functions so that every module of the service layer (events,
reminders, revues) can take a Context without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from models import ConventionVersion
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.domain.clock import Clock
from workflow.domain.conventions import ConventionBook, Terms, terms_from_figures
from workflow.domain.errors import ConfigurationError
from workflow.domain.records import CaseFields


@dataclass
class Context:
    """What every service call needs, built once per process (and per simulated clock)."""

    clock: Clock
    book: ConventionBook
    version_ids: dict[tuple[str, str], int]
    _pinned: dict[int, Terms] = field(default_factory=dict)

    @classmethod
    def open(cls, uow: UnitOfWork, clock: Clock, book: ConventionBook) -> Context:
        """Record the conventions in the database (so cases can pin them) and build a context."""
        with uow:
            ids = sync_book(uow, book, clock)
            uow.commit()
        return cls(clock=clock, book=book, version_ids=ids)

    def terms(self, session: Session, case: CaseFields, on: date) -> tuple[Terms, int]:
        """The terms that govern a case: pinned at signature, else those in force on `on`."""
        if case.convention_version_id is not None:
            vid = case.convention_version_id
            if vid not in self._pinned:
                row = session.get_one(ConventionVersion, vid)
                self._pinned[vid] = terms_from_figures(row.figures)
            return self._pinned[vid], vid
        conv = self.book.in_force(case.convention_code, on)
        return conv.terms, self.version_ids[(conv.code, conv.version)]


def sync_book(uow: UnitOfWork, book: ConventionBook, clock: Clock) -> dict[tuple[str, str], int]:
    """Record every version in the database; return the row id of each (code, version).

    A version already pinned by signed contracts cannot change its figures: an amendment is
    a new version with a later effective date (an avenant), never an edit of the old one.
    """
    rows = uow.convention_versions.by_key()
    for conv in book.all():
        row = rows.get((conv.code, conv.version))
        if row is None:
            row = ConventionVersion(
                code=conv.code,
                version=conv.version,
                effective_from=conv.effective_from,
                name=conv.name,
                figures=conv.figures(),
                defaulted=list(conv.defaulted),
                recorded_at=clock.now(),
            )
            uow.convention_versions.add(row)
            rows[(conv.code, conv.version)] = row
            continue
        if row.figures == conv.figures() and row.effective_from == conv.effective_from:
            continue
        pinned = uow.convention_versions.cases_pinned_to(row.id)
        if pinned:
            raise ConfigurationError(
                f"la convention {conv.code} version {conv.version} diffère de celle enregistrée, et "
                f"{pinned} dossier(s) signé(s) en gardent les termes : ajoutez une nouvelle version "
                f"(un avenant) avec un effective_from plus tardif au lieu de modifier celle-ci"
            )
        row.figures = conv.figures()
        row.effective_from = conv.effective_from
        row.name = conv.name
        row.defaulted = list(conv.defaulted)
    uow.flush()
    return {key: row.id for key, row in rows.items()}
