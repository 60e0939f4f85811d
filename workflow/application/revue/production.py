"""The monthly revue de portefeuille of an agency: its dates and its tableau de suivi.

Seed 004 art. 5.2: every month, per agency, the dedicated conseillers and the social workers of
the territory act the entries, renewals (« dans la limite d'un an ») and exits, the
reorientations of BRSA, and debate disagreements, on a tableau de suivi (annex 1); the
secretariat alternates between the France Travail conseiller and the Département's social
worker. The revue of a month is held on the day and hour its convention sets (by default the
first working day at 08:00, public holidays skipped, `workflow.domain.working_days`) and covers what
happened since the previous revue; renewals look ahead to the next one.

The tableau names cases by reference and professionals by id: no barrier, health or social
detail, as it travels by email to the partners.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Appointment, Case, Email, Person, RejectedEvent, Revue
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.revue.recipients import recipients
from workflow.application.service_context import Context
from workflow.domain.clock import PARIS
from workflow.domain.conventions import ConventionBook, RevueSchedule
from workflow.domain.deadlines import can_still_renew
from workflow.domain.errors import ConfigurationError, NotFound, WorkflowError
from workflow.domain.lifecycle import BEFORE_CONTRACT, UNDER_CONTRACT
from workflow.domain.vocabulary import (
    AppointmentOutcome,
    EmailStatus,
    ExitReason,
    PersonStatus,
    ReminderKind,
    Role,
)
from workflow.domain.working_days import nth_working_day

REORIENTATIONS = frozenset({ExitReason.REORIENTATION_SOCIALE, ExitReason.AUTRE_REORIENTATION})
# The guard's refusal (workflow.domain.guards.has_joint_agreement), as it begins now and as it began
# in the rejections stored before the reasons were written in French.
DISAGREEMENT = ("accord conjoint", "joint agreement")
SECTIONS = ("entrees", "renouvellements", "sorties", "a_debattre", "conseillers", "chiffres")


@dataclass(frozen=True)
class RevueDates:
    held_on: date
    since: date  # the previous revue's day
    next_on: date
    at: time = time(8, 0)  # the hour it is held (Europe/Paris)

    @property
    def held_at(self) -> datetime:
        return datetime.combine(self.held_on, self.at, PARIS)


def parse_month(text: str) -> tuple[int, int]:
    """'2026-11' → (2026, 11), with a clear error otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        date(year, month, 1)
    except ValueError:
        raise WorkflowError(f"le mois {text!r} ne s'écrit pas comme 2026-11") from None
    return year, month


def _shift(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + by
    return index // 12, index % 12 + 1


def _schedule(book: ConventionBook, departement: str, year: int, month: int) -> RevueSchedule:
    """The revue schedule of the convention in force on the month's first day (the default
    before the convention's first version)."""
    try:
        return book.in_force(departement, date(year, month, 1)).revue
    except ConfigurationError:
        return RevueSchedule()


def _held_on(book: ConventionBook, departement: str, year: int, month: int) -> date:
    schedule = _schedule(book, departement, year, month)
    return nth_working_day(year, month, schedule.working_day, departement)


def revue_dates(book: ConventionBook, year: int, month: int, departement: str) -> RevueDates:
    """The day and hour of a month's revue by its convention (the n-th working day, public holidays
    of the département skipped), and the previous and next revues' days."""
    return RevueDates(
        _held_on(book, departement, year, month),
        _held_on(book, departement, *_shift(year, month, -1)),
        _held_on(book, departement, *_shift(year, month, 1)),
        _schedule(book, departement, year, month).at,
    )


def secretariat(year: int, month: int) -> Role:
    """seed 004 art. 5.2: « secrétariat assuré en alternance »; even months the conseiller."""
    return Role.CONSEILLER if (year * 12 + month) % 2 == 0 else Role.REFERENT_SOCIAL


_COLUMNS = (
    Case.id, Case.reference, Case.state, Case.convention_code, Case.convention_version_id,
    Case.conseiller_id, Case.referent_social_id, Case.diagnostic_kind, Case.orientation_date,
    Case.contract_start, Case.contract_end, Case.renewal_count, Case.exit_date, Case.exit_reason,
    Case.revue_flag, Case.diagnostic_date, Person.status,
)  # fmt: skip


def tableau(session: Session, ctx: Context, agence: str, dates: RevueDates) -> dict[str, Any]:
    """The tableau de suivi of an agency for the revue held on `dates.held_on`."""
    # Plain rows, not ORM objects: the columns the rules read, and the person's status (the ORM's
    # identity map and instrumentation were half the revue's time on a thousand-case agency).
    query = select(*_COLUMNS).join(Person).where(Case.agence == agence)
    cases = cast(list[Case], session.execute(query).all())
    by_id = {c.id: c for c in cases}

    def in_window(day: date | None) -> bool:
        return day is not None and dates.since <= day < dates.held_on

    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
    entries_by_conseiller: Counter[str] = Counter()
    delays = []
    for case in sorted(cases, key=lambda c: c.reference):
        terms, _ = ctx.terms(session, case, dates.held_on)
        if in_window(case.contract_start):
            assert case.contract_start is not None
            delay = (case.contract_start - case.orientation_date).days
            delays.append(delay)
            entries_by_conseiller[case.conseiller_id or "—"] += 1
            rows["entrees"].append(
                _row(case, referent_social=case.referent_social_id, orientation=case.orientation_date,
                     contrat=case.contract_start, diagnostic=case.diagnostic_kind, delai_jours=delay)
            )  # fmt: skip
        if (
            case.state in UNDER_CONTRACT
            and case.contract_end is not None
            and case.contract_end < dates.next_on
        ):
            rows["renouvellements"].append(
                _row(case, fin_contrat=case.contract_end, renouvellements=case.renewal_count,
                     renouvellement_possible=can_still_renew(case, terms))
            )  # fmt: skip
        if in_window(case.exit_date):
            brsa = cast(Any, case).status == PersonStatus.BRSA
            rows["sorties"].append(
                _row(case, sortie=case.exit_date, motif=case.exit_reason,
                     reorientation_brsa=brsa and case.exit_reason in REORIENTATIONS)
            )  # fmt: skip
        late = case.orientation_date + timedelta(terms.entry_target_days)
        if case.state in BEFORE_CONTRACT and late < dates.held_on:
            rows["a_debattre"].append(_row(case, sujet="délai d'entrée dépassé", depuis=late))
        if case.revue_flag == ReminderKind.ECHU and case.contract_end is not None:
            rows["a_debattre"].append(
                _row(case, sujet="contrat échu sans décision", depuis=case.contract_end)
            )
    rows["a_debattre"] += _missed(session, agence, by_id, dates) + _disagreements(
        session, agence, by_id, dates
    )
    rows["a_debattre"].sort(key=lambda r: (r["dossier"], r["sujet"]))
    active = Counter(c.conseiller_id for c in cases if c.state in UNDER_CONTRACT and c.conseiller_id)
    target = ctx.book.in_force(cases[0].convention_code, dates.held_on).terms if cases else None
    for conseiller in sorted(set(active) | set(entries_by_conseiller) - {"—"}):
        assert target is not None
        rows["conseillers"].append(
            {"conseiller": conseiller, "actifs": active[conseiller],
             "cible": f"{target.portfolio_min}-{target.portfolio_max}",
             "entrees_du_mois": entries_by_conseiller[conseiller]}
        )  # fmt: skip
    average = round(sum(delays) / len(delays), 1) if delays else None
    rows["chiffres"] = [
        {
            "entrees": len(rows["entrees"]),
            "sorties": len(rows["sorties"]),
            "delai_moyen_entree_jours": average,
        }
    ]
    return {name: [_plain(r) for r in section] for name, section in rows.items()}


def _missed(session: Session, agence: str, by_id: dict[int, Case], dates: RevueDates) -> list[dict[str, Any]]:
    """Appointments missed in the period, dated by when they were planned, unless the case has
    left since (seed 004 art. 2 e: the absence is dealt with « sans délai »)."""
    start = datetime.combine(dates.since, time(), PARIS)
    end = datetime.combine(dates.held_on, time(), PARIS)
    query = select(Appointment.case_id, Appointment.kind, Appointment.planned_at).join(Case).where(
        Case.agence == agence, Appointment.outcome == AppointmentOutcome.ABSENT,
        Appointment.planned_at >= start, Appointment.planned_at < end,
    )  # fmt: skip
    rows = []
    for case_id, kind, planned_at in session.execute(query):
        day = planned_at.astimezone(PARIS).date()
        if not _moved_on(by_id[case_id], day, dates.held_on, diagnosed=False):
            rows.append(_row(by_id[case_id], sujet=f"rendez-vous {kind} manqué", depuis=day))
    return rows


def _disagreements(
    session: Session, agence: str, by_id: dict[int, Case], dates: RevueDates
) -> list[dict[str, Any]]:
    """Diagnostics refused because the two professionals disagree: « la situation sera débattue en
    commission mensuelle » (seed 004 art. 2 e). Dated by the diagnostic's own date (not when it was
    ingested), listed while the disagreement stands: gone once the case moved on (a diagnostic
    that passed, an exit) before the revue."""
    query = (
        select(Case.id, func.coalesce(RejectedEvent.occurred_at, RejectedEvent.rejected_at))
        .join(Case, Case.reference == RejectedEvent.case_reference)
        .where(Case.agence == agence, RejectedEvent.resolved_at.is_(None),
               or_(*(RejectedEvent.reason.contains(wording) for wording in DISAGREEMENT)))
    )  # fmt: skip
    latest: dict[int, date] = {}
    for case_id, at in session.execute(query):
        day = at.astimezone(PARIS).date()
        if day < dates.held_on:
            latest[case_id] = max(day, latest.get(case_id, day))
    return [
        _row(by_id[case_id], sujet="désaccord du binôme", depuis=day)
        for case_id, day in latest.items()
        if not _moved_on(by_id[case_id], day, dates.held_on, diagnosed=True)
    ]


def _moved_on(case: Case, since: date, held_on: date, diagnosed: bool) -> bool:
    """Whether the case moved on after `since` and before the revue: it left, or (for a
    disagreement on its diagnostic) a diagnostic went through."""
    if case.exit_date is not None and case.exit_date < held_on:
        return True
    return diagnosed and case.diagnostic_date is not None and since <= case.diagnostic_date < held_on


def _row(case: Case, **columns: Any) -> dict[str, Any]:
    return {"dossier": case.reference, "conseiller": case.conseiller_id, **columns}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: dates as ISO strings."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


def agencies(session: Session) -> list[tuple[str, str]]:
    """(agence, convention) of every agency that has cases."""
    query = select(Case.agence, Case.convention_code).distinct().order_by(Case.agence)
    return [(agence, code) for agence, code in session.execute(query)]


def due_revues(session: Session, book: ConventionBook, now: datetime) -> list[tuple[str, str]]:
    """(agence, month) of the revues of this month whose day and hour have come and that are not
    produced yet: what the scheduler queues, so a revue missed while it was down comes late, once."""
    day = now.astimezone(PARIS).date()
    month = f"{day.year:04d}-{day.month:02d}"
    done = set(session.scalars(select(Revue.agence).where(Revue.month == month)))
    return [
        (agence, month)
        for agence, code in agencies(session)
        if agence not in done and revue_dates(book, day.year, day.month, code).held_at <= now
    ]


def find(session: Session, agence: str, month: str) -> Revue | None:
    return session.scalar(select(Revue).where(Revue.agence == agence, Revue.month == month))


def produce(uow: UnitOfWork, ctx: Context, agence: str, month: str, by: str | None = None) -> Revue | None:
    """Build and record the revue of an agency for a month; None if it already exists."""
    year, number = parse_month(month)
    with uow:
        code = uow.revues.departement_of(agence)
        if code is None:
            raise NotFound(f"aucun dossier dans l'agence {agence!r}")
        dates = revue_dates(ctx.book, year, number, code)
        revue = Revue(
            agence=agence, month=month, departement=code, held_on=dates.held_on, since=dates.since,
            next_on=dates.next_on, secretariat=secretariat(year, number).value,
            content=tableau(uow.session, ctx, agence, dates), created_at=ctx.clock.now(),
            created_by=(by or f"{socket.gethostname()}:{os.getpid()}")[:120],
        )  # fmt: skip
        to = recipients(uow.session, agence, code)  # read before the insert, which may collide
        uow.revues.add(revue)
        if to:  # the revue and its email land together (the outbox): sent once committed
            email = Email(key=f"revue:{agence}:{month}", recipients=to, status=EmailStatus.PENDING.value,
                          attempts=0, created_at=ctx.clock.now(), revue=revue)  # fmt: skip
            uow.emails.add(email)
        try:
            uow.commit()
        except IntegrityError:
            return None
        return revue
