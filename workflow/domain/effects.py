"""Effects: what a transition writes on the case once its guards passed and its state moved.

Each returns the details its log row keeps. They run after the move, inside the caller's
transaction: `transitions` does not undo a state change when a callback fails, the rollback does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflow.domain import guards
from workflow.domain.attempt import Attempt
from workflow.domain.dates import period_end
from workflow.domain.records import CaseFields
from workflow.domain.vocabulary import ReminderKind

Effect = Callable[[CaseFields, Attempt], dict[str, Any]]


def assign_binome(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.conseiller_id = attempt.conseiller_id
    case.referent_social_id = attempt.referent_social_id
    return {"conseiller": attempt.conseiller_id, "referent_social": attempt.referent_social_id}


def record_consent(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.consent = bool(attempt.consent)
    return {"consent": case.consent}


def record_diagnostic(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    if attempt.barriers is not None:
        case.barriers = list(attempt.barriers)
    case.diagnostic_kind = attempt.diagnostic_kind
    case.conseiller_opinion = attempt.conseiller_opinion
    case.referent_opinion = attempt.referent_opinion
    case.diagnostic_date = attempt.on
    return {"diagnostic_kind": str(attempt.diagnostic_kind)}


def start_contract(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    """Seeds 000/001 art. 3.4: the signature starts the accompaniment."""
    case.convention_version_id = attempt.convention_version_id
    case.contract_start = attempt.on
    case.contract_end = period_end(attempt.on, attempt.terms.first_contract_months)
    return {
        "contract_start": case.contract_start.isoformat(),
        "contract_end": case.contract_end.isoformat(),
        "convention_version_id": attempt.convention_version_id,
    }


def renew(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.contract_end = guards.renewed_end(case, attempt)
    case.renewal_count += 1
    case.renewal_date = attempt.on
    clear_revue_flag(case)
    return {"contract_end": case.contract_end.isoformat(), "decided_by": str(attempt.renewal_by)}


def close(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.exit_date = attempt.on
    case.exit_reason = attempt.exit_reason
    if attempt.revue_id is not None:  # decided at the revue, so acted there too
        case.exit_acted_on = attempt.on
    clear_revue_flag(case)
    return {}


def act_entry(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.entry_acted_on = attempt.on
    return {}


def act_exit(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.exit_acted_on = attempt.on
    return {}


def flag_for_revue(case: CaseFields, attempt: Attempt) -> dict[str, Any]:
    case.revue_flag = ReminderKind.ECHU.value
    case.revue_flagged_on = attempt.on
    return {}


def clear_revue_flag(case: CaseFields) -> None:
    """The decision a flag asked the revue for (renew or exit) is taken."""
    if case.revue_flag is not None:
        case.revue_flag = None
        case.revue_flagged_on = None
