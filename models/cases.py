"""A case of accompagnement global and its appointments.

The `state` column holds the lifecycle state as a plain string; which values and moves are
legal is the business of `workflow.domain.lifecycle`, not of this table. Writers of a case
serialize on its row lock (SELECT … FOR UPDATE, `workflow.adapters.repositories.Cases.get`),
not on a version column: the ORM cannot batch the UPDATEs of versioned rows, and a batch
touches hundreds of cases.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.people import Person


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_agence_state", "agence", "state"),
        Index("ix_case_file_conseiller_state", "conseiller_id", "state"),
        Index("ix_case_file_state_contract_end", "state", "contract_end"),
        # The daily scan's query: the cases with a reminder due by a day. Partial, so the scan's
        # cost follows what is due, not the number of cases; (day, id) is also its order.
        Index(
            "ix_case_file_next_reminder",
            "next_reminder_on",
            "id",
            postgresql_where=text("next_reminder_on IS NOT NULL"),
            sqlite_where=text("next_reminder_on IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    convention_code: Mapped[str] = mapped_column(String(3))
    # Pinned when the contract is signed: the version in force that day (avenants).
    convention_version_id: Mapped[int | None] = mapped_column(ForeignKey("convention_version.id"))
    agence: Mapped[str] = mapped_column(String(64))
    # No index of its own: (state, contract_end) below serves queries by state alone, and each
    # index is one more write on every transition and every move of the next reminder day.
    state: Mapped[str] = mapped_column(String(20))

    conseiller_id: Mapped[str | None] = mapped_column(ForeignKey("professional.id"))
    referent_social_id: Mapped[str | None] = mapped_column(ForeignKey("professional.id"))
    orienteur_id: Mapped[str] = mapped_column(ForeignKey("professional.id"))
    origin: Mapped[str] = mapped_column(String(24))

    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    barriers: Mapped[list[str]] = mapped_column(JSON, default=list)
    other_barrier_agreed: Mapped[bool] = mapped_column(Boolean, default=False)

    diagnostic_kind: Mapped[str | None] = mapped_column(String(24))
    conseiller_opinion: Mapped[str | None] = mapped_column(String(16))
    referent_opinion: Mapped[str | None] = mapped_column(String(16))

    orientation_date: Mapped[date] = mapped_column(Date)
    diagnostic_date: Mapped[date | None] = mapped_column(Date)
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    renewal_count: Mapped[int] = mapped_column(Integer, default=0)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    exit_date: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(40))
    # Why the next revue de portefeuille must look at this case (a contract expired with no
    # decision), and since when: set by the scan's `signaler_echu` decision, cleared by the
    # decision (renewal or exit).
    revue_flag: Mapped[str | None] = mapped_column(String(40))
    revue_flagged_on: Mapped[date | None] = mapped_column(Date)
    # The day the revue acted the entry and the exit (seed 004 art. 2 d: « Les entrées,
    # renouvellements et sorties du dispositif sont actés lors des revues de portefeuille »);
    # which revue is in the log row's details and in `revue_decision`.
    entry_acted_on: Mapped[date | None] = mapped_column(Date)
    exit_acted_on: Mapped[date | None] = mapped_column(Date)
    # The reminder plan is derived, not stored: `reminder_rules.schedule(case)` gives every
    # dated reminder the case calls for. This is the earliest of them no daily scan has looked
    # at yet (None: none left); the scan writes a reminder row only once one is due.
    next_reminder_on: Mapped[date | None] = mapped_column(Date)
    # The head of the case's transition log chain (its last row's seq and hash), kept on the row
    # that is locked anyway, so appending needs no query of the log.
    log_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    log_hash: Mapped[str | None] = mapped_column(String(64))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    person: Mapped[Person] = relationship()
    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="case", order_by="Appointment.planned_at"
    )


class Appointment(Base):
    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # diagnostic, social, emploi, tripartite
    professional_id: Mapped[str | None] = mapped_column(ForeignKey("professional.id"))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When it was fixed (the planning event's instant); NULL for rows older than the column.
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))  # prevu, honore, absent, excuse
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="appointments")
