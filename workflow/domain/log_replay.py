"""Rebuilding a case from its transition log alone.

Every change of a case is a decision (`workflow.application.deciding`), and its log row keeps
what the decision was given (`logged_attempt`, under "attempt") and, on the first row, what the
case was opened with (`opening`, under "opened"). Played again in chain order through the
lifecycle's own moves and effects (`lifecycle.fire_unguarded`), the rows give the case back as it stood
after any of them: after the last for the replay check (`application/audit/replay.py`), at the
end of a past day for the point-in-time views (`application/queries/point_in_time.py`).

Not rebuilt, on purpose: the person (the log holds no identifier of theirs), their barriers and
whether an unlisted barrier was agreed (personal data, erased at retention:
`application/audit/personal_data.py`), the daily scan's cursor `next_reminder_on` (checked
against the rebuilt plan instead: `reminder_day_fits`) and the rows' bookkeeping instants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol

from workflow.domain import labels
from workflow.domain.attempt import Actor, Attempt
from workflow.domain.clock import paris_date
from workflow.domain.conventions import Terms
from workflow.domain.errors import TransitionRefused
from workflow.domain.lifecycle import ORIENTER, State, fire_unguarded
from workflow.domain.records import CaseFields, RebuiltCase
from workflow.domain.reminder_rules import planned
from workflow.domain.vocabulary import Role

# What a decision was given, kept on its log row: every field of `Attempt` an effect or a
# guard reads, except the barriers (personal data) and what the row holds already (the revue
# that decided, in its details since revues act decisions).
ATTEMPT_FIELDS = (
    "conseiller_id", "referent_social_id", "consent", "diagnostic_kind", "conseiller_opinion",
    "referent_opinion", "renewal_by", "renewal_months", "exit_reason", "ep_validated",
)  # fmt: skip

# The case columns the log determines, compared field by field by the replay check.
COMPARED = (
    "state", "convention_code", "convention_version_id", "agence", "orienteur_id", "origin",
    "conseiller_id", "referent_social_id", "consent", "diagnostic_kind", "conseiller_opinion",
    "referent_opinion", "orientation_date", "diagnostic_date", "contract_start", "contract_end",
    "renewal_count", "renewal_date", "exit_date", "exit_reason", "revue_flag", "revue_flagged_on",
    "entry_acted_on", "exit_acted_on", "log_seq", "log_hash",
)  # fmt: skip

TermsOf = Callable[[CaseFields, date], tuple[Terms, int]]


class LogRow(Protocol):
    """What the rebuild reads of a log row (an ORM row or a plain result row)."""

    @property
    def case_reference(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def trigger(self) -> str: ...
    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str: ...
    @property
    def actor_id(self) -> str: ...
    @property
    def actor_role(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def event_id(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def hash(self) -> str: ...


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def logged_attempt(attempt: Attempt) -> dict[str, Any]:
    """The decision's data as its log row keeps it: the day it takes effect and the fields set."""
    kept: dict[str, Any] = {"on": attempt.on.isoformat()}
    for name in ATTEMPT_FIELDS:
        value = getattr(attempt, name)
        if value is not None and value is not False:
            kept[name] = _plain(value)
    return kept


def opening(case: CaseFields) -> dict[str, Any]:
    """What the first row keeps of a case being opened, beyond its origin and convention."""
    return {
        "on": case.orientation_date.isoformat(),
        "convention_code": case.convention_code,
        "agence": case.agence,
        "consent": bool(case.consent),
    }


def row_day(row: LogRow) -> date:
    """The day a row's decision took effect (Paris): its `on`, else the day it occurred."""
    kept = row.details.get("opened") or row.details.get("attempt") or {}
    on = kept.get("on")
    return date.fromisoformat(on) if isinstance(on, str) else paris_date(row.occurred_at)


@dataclass
class Rebuilt:
    """A case rebuilt from its rows, the rows applied, and what did not replay."""

    case: RebuiltCase | None = None  # None: not opened yet at the day asked
    applied: list[LogRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def rebuild(rows: Iterable[LogRow], terms_of: TermsOf, until: date | None = None) -> Rebuilt:
    """Play a case's rows again, in chain order; with `until`, only the rows in effect by the
    end of that day (a decision reported late but dated earlier counts from its day)."""
    out = Rebuilt()
    for row in rows:
        on = row_day(row)
        if until is not None and on > until:
            continue
        if row.trigger == ORIENTER:
            if out.case is not None:
                out.problems.append(f"ligne {row.seq} : le dossier est ouvert une seconde fois")
                continue
            out.case = _opened(row, on)
        elif out.case is None:
            out.problems.append(f"{_line(row)} : avant l'ouverture du dossier")
            continue
        elif not _decided(out, out.case, row, on, terms_of):
            continue
        out.case.log_seq, out.case.log_hash = row.seq, row.hash
        out.applied.append(row)
    return out


def _opened(row: LogRow, on: date) -> RebuiltCase:
    kept = row.details.get("opened") or {}
    convention = str(row.details.get("convention", "")).split("/")[0]
    return RebuiltCase(
        reference=row.case_reference,
        convention_code=kept.get("convention_code", convention),
        agence=kept.get("agence", ""),
        state=State.REPERAGE.value,
        orienteur_id=row.actor_id,
        origin=row.details.get("origin", ""),
        consent=bool(kept.get("consent")),
        orientation_date=on,
    )


def _decided(out: Rebuilt, case: RebuiltCase, row: LogRow, on: date, terms_of: TermsOf) -> bool:
    """Apply one decision row to the rebuilt case; note what does not match and say if applied."""
    kept = row.details.get("attempt")
    if kept is None:
        out.problems.append(f"{_line(row)} : écrite avant que le journal garde les données des décisions")
        return False
    if row.from_state != case.state:
        out.problems.append(
            f"{_line(row)} : part de l'état « {_state(row.from_state)} », "
            f"le dossier rejoué est en « {_state(case.state)} »"
        )
    terms, version_id = terms_of(case, on)
    attempt = Attempt(
        actor=Actor(row.actor_id, Role(row.actor_role)), occurred_at=row.occurred_at, on=on,
        terms=terms, convention_version_id=version_id, event_id=row.event_id,
        revue_id=row.details.get("revue_id"), **{name: kept[name] for name in ATTEMPT_FIELDS if name in kept},
    )  # fmt: skip
    try:
        effects = fire_unguarded(case, row.trigger, attempt)
    except TransitionRefused:
        out.problems.append(f"{_line(row)} : ce passage n'existe pas depuis l'état « {_state(case.state)} »")
        return False
    for key, value in effects.items():
        if key in row.details and row.details[key] != value:
            out.problems.append(f"{_line(row)} : {key} recalculé {value}, le journal dit {row.details[key]}")
    if case.state != row.to_state:
        out.problems.append(
            f"{_line(row)} : mène à l'état « {_state(row.to_state)} », le rejeu à « {_state(case.state)} »"
        )
    return True


def _line(row: LogRow) -> str:
    return f"ligne {row.seq} ({labels.word(labels.TRIGGERS, row.trigger)})"


def _state(code: str | None) -> str:
    return labels.word(labels.STATES, code)


@dataclass(frozen=True)
class Difference:
    """One field of a stored case that its log does not give."""

    reference: str
    field: str
    stored: Any
    rebuilt: Any


def differences(stored: Mapping[str, Any], rebuilt: CaseFields) -> list[Difference]:
    """The compared fields where the stored case row and the rebuilt case disagree."""
    found = []
    for name in COMPARED:
        mine, theirs = stored[name], getattr(rebuilt, name)
        if _plain(mine) != _plain(theirs):
            found.append(Difference(rebuilt.reference, name, mine, theirs))
    return found


def reminder_day_fits(next_reminder_on: date | None, rebuilt: CaseFields, terms: Terms) -> bool:
    """The scan's cursor is one of the days the rebuilt case's reminder plan calls for, or none
    (every planned reminder looked at): a cursor set by hand to another day is not."""
    return next_reminder_on is None or next_reminder_on in {p.due for p in planned(rebuilt, terms)}
