"""What every service call needs, built once per process: the clock and the conventions.

Kept apart from the service functions so that every module of the service layer (events,
reminders, revues) can take a Context without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from models import Case, ConventionVersion
from workflow.clock import Clock
from workflow.conventions import ConventionBook, Terms, sync_book, terms_from_figures
from workflow.unit_of_work import UnitOfWork


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
            ids = sync_book(uow.session, book, clock)
            uow.commit()
        return cls(clock=clock, book=book, version_ids=ids)

    def terms(self, session: Session, case: Case, on: date) -> tuple[Terms, int]:
        """The terms that govern a case: pinned at signature, else those in force on `on`."""
        if case.convention_version_id is not None:
            vid = case.convention_version_id
            if vid not in self._pinned:
                row = session.get_one(ConventionVersion, vid)
                self._pinned[vid] = terms_from_figures(row.figures)
            return self._pinned[vid], vid
        conv = self.book.in_force(case.convention_code, on)
        return conv.terms, self.version_ids[(conv.code, conv.version)]
