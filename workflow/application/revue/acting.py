"""The decisions of a revue de portefeuille, applied to the cases as audited transitions.

Seed 004 art. 2 d: « Les entrées, renouvellements et sorties du dispositif sont actés lors des
revues de portefeuille mensuelles prévues à l'article 5.2 »; art. 5.2 a: acting an entry « ne
constitue qu'une formalité d'enregistrement lorsque le conseiller emploi et l'intervenant social
partagent les mêmes conclusions ». So without a file, acting a revue records that formality:
every entry diagnosed jointly (diagnostic partagé) and every exit. Anything else (an entry on a
one-professional diagnostic, a renewal, an exit decided at the revue) is written by the
secretariat in the `decision` column of the tableau sent back.

A decision is checked against the revue before anything is applied (a case the revue does not
list in that rubrique, an unknown decision, a missing actor: the whole file is refused, naming
file, line and column). Each decision then lands alone, with its log row carrying the revue's id
and a `revue_decision` row unique per (revue, case, rubrique): acting the same file twice applies
each decision once, and a refused decision can be corrected and sent again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Case, Revue, RevueDecision
from workflow.adapters.transient import is_transient
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.application.actors import professional_actor
from workflow.application.deciding import decide
from workflow.application.service_context import Context
from workflow.domain import labels
from workflow.domain.clock import paris_date
from workflow.domain.errors import Forbidden, NotFound, WorkflowError
from workflow.domain.labels import COLUMNS
from workflow.domain.lifecycle import ACTER_ENTREE, ACTER_SORTIE, RENOUVELER, SORTIR
from workflow.domain.revue_wording import (
    ACTER,
    ACTOR,
    DECISION,
    RENOUVELER_VERB,
    SORTIE,
    VERBS,
    Line,
    decision_code,
)
from workflow.domain.vocabulary import DiagnosticKind, ExitReason, RenewalDecidedBy, Role

DECIDERS = frozenset({Role.CONSEILLER, Role.REFERENT_SOCIAL})  # the professionals of the revue


class DecisionOutcome(StrEnum):
    APPLIED = "appliquée"
    ALREADY = "déjà appliquée"
    REFUSED = "refusée"
    PLANNED = "à appliquer"  # a dry run


@dataclass(frozen=True)
class Decision:
    rubrique: str
    case_reference: str
    verb: str
    exit_reason: ExitReason | None
    actor_id: str
    where: str  # where it was read, for messages

    @property
    def text(self) -> str:
        return f"{self.verb}:{self.exit_reason.value}" if self.exit_reason else self.verb


@dataclass(frozen=True)
class Result:
    decision: Decision
    outcome: DecisionOutcome
    message: str


# The columns as the tableau names them, for the messages about a cell.
DECISION_HEADER, ACTOR_HEADER = f"« {COLUMNS[DECISION]} »", f"« {COLUMNS[ACTOR]} »"


def listed(revue: Revue) -> dict[str, set[str]]:
    """The case references each actionable rubrique of the revue lists."""
    return {name: {row["dossier"] for row in revue.content.get(name, [])} for name in VERBS}


def from_lines(revue: Revue, lines: Iterable[Line], default_actor: str | None) -> list[Decision]:
    """The decisions written in a tableau sent back; WorkflowError naming every bad cell."""
    cases = listed(revue)
    decisions: list[Decision] = []
    problems: list[str] = []
    for line in lines:
        text = decision_code(str(line.cells.get(DECISION) or ""))
        if not text or line.rubrique not in VERBS:
            continue
        reference = str(line.cells.get("dossier") or "").strip()
        try:
            verb, reason = _parse(text, line.rubrique)
            if reference not in cases[line.rubrique]:
                raise WorkflowError(
                    f"le dossier {reference or '(vide)'!r} n'est pas dans la rubrique "
                    f"« {labels.RUBRIQUES[line.rubrique]} » de la revue n° {revue.id} "
                    f"({revue.agence}, {labels.month(revue.month)})"
                )
            actor = str(line.cells.get(ACTOR) or "").strip() or default_actor
            if not actor:
                raise WorkflowError(
                    f"la colonne {ACTOR_HEADER} est vide et aucun acteur n'est donné par --by"
                )
        except WorkflowError as exc:
            problems.append(f"{line.where} : {exc}")
            continue
        decisions.append(Decision(line.rubrique, reference, verb, reason, actor, line.where))
    seen: dict[tuple[str, str], str] = {}
    for d in decisions:
        first = seen.setdefault((d.rubrique, d.case_reference), d.where)
        if first != d.where:
            problems.append(f"{d.where} : le dossier {d.case_reference} a déjà une décision en {first}")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … et {len(problems) - 20} de plus" if len(problems) > 20 else ""
        raise WorkflowError(f"{len(problems)} problème(s), rien n'est appliqué :\n  {shown}{more}")
    return decisions


def _parse(text: str, rubrique: str) -> tuple[str, ExitReason | None]:
    verb, _, rest = text.partition(":")
    allowed = VERBS[rubrique]
    if verb not in allowed:
        raise WorkflowError(
            f"colonne {DECISION_HEADER} : {text!r} n'est pas une décision de la rubrique "
            f"« {labels.RUBRIQUES[rubrique]} » (au choix : {', '.join(sorted(allowed))}"
            f"{', sortie:<motif>' if SORTIE in allowed else ''})"
        )
    if verb != SORTIE:
        if rest:
            raise WorkflowError(f"colonne {DECISION_HEADER} : {text!r} : {verb} ne prend pas de motif")
        return verb, None
    try:
        return verb, ExitReason(rest.strip())
    except ValueError:
        known = ", ".join(r.value for r in ExitReason)
        raise WorkflowError(
            f"colonne {DECISION_HEADER} : {text!r} n'a pas de motif connu "
            f"(sortie:<motif>, au choix : {known})"
        ) from None


def formality(revue: Revue, actor_id: str) -> list[Decision]:
    """Seed 004 art. 5.2 a: the entries both professionals agreed on, and every exit."""
    where = f"revue {revue.id}"
    entries = [
        Decision("entrees", row["dossier"], ACTER, None, actor_id, where)
        for row in revue.content.get("entrees", [])
        if row.get("diagnostic") == DiagnosticKind.PARTAGE
    ]
    exits = [
        Decision("sorties", row["dossier"], ACTER, None, actor_id, where)
        for row in revue.content.get("sorties", [])
    ]
    return entries + exits


def secretary_of(session: Session, revue: Revue) -> str | None:
    """A professional of the agency's cases in the role that holds the revue's secretariat this
    time (seed 004 art. 5.2 a), the first by identifier; None if the agency has none."""
    column = Case.conseiller_id if revue.secretariat == Role.CONSEILLER else Case.referent_social_id
    query = select(column).where(Case.agence == revue.agence, column.is_not(None)).order_by(column).limit(1)
    return session.scalar(query)


TRIES = 5  # a transaction that met a concurrent writer (SQLite's "database is locked") starts again


def apply(
    uow: UnitOfWork, ctx: Context, revue_id: int, decisions: list[Decision], dry_run: bool = False
) -> list[Result]:
    """Apply each decision in its own savepoint: a refused one (a guard, an unknown actor) is
    reported and leaves nothing; the others land together. Nothing is written on a dry run.

    Two secretaries acting the same revue at once: on PostgreSQL the case's row lock makes the
    second find the decision recorded; on SQLite the second transaction may be refused the write
    lock, and starts again from scratch, finding what the first committed."""
    for attempt in range(1, TRIES + 1):
        try:
            return _apply_all(uow, ctx, revue_id, decisions, dry_run)
        except Exception as exc:
            if not is_transient(exc) or attempt == TRIES:
                raise
            time.sleep(random.uniform(0.02, 0.1) * attempt)
    raise AssertionError("unreachable")


def _apply_all(
    uow: UnitOfWork, ctx: Context, revue_id: int, decisions: list[Decision], dry_run: bool
) -> list[Result]:
    with uow:
        uow.take_write_lock()  # SQLite: one secretary at a time, each decision in a true savepoint
        revue = uow.revues.get(revue_id)
        if revue is None:
            raise NotFound(f"aucune revue n° {revue_id} (voir `accompagnement revue list`)")
        results = [_apply_one(uow, ctx, revue, decision, dry_run) for decision in decisions]
        if not dry_run:
            uow.commit()
    return results


def _apply_one(uow: UnitOfWork, ctx: Context, revue: Revue, decision: Decision, dry_run: bool) -> Result:
    savepoint = uow.savepoint()
    try:
        # The case's row lock first: a concurrent `revue act` of the same decision waits here, then
        # finds the decision recorded below instead of having its transition refused.
        case = uow.cases.get(decision.case_reference)
        if case is None:
            raise WorkflowError(f"aucun dossier {decision.case_reference}")
        done = uow.revues.decision_taken(revue.id, decision.case_reference, decision.rubrique)
        if done is not None:
            savepoint.rollback()
            return Result(
                decision,
                DecisionOutcome.ALREADY,
                f"déjà actée : {done.decision}, par {done.actor_id}"
                f" le {labels.day(paris_date(done.applied_at))}",
            )
        from_state = case.state
        trigger, fields = _trigger_for(decision)
        digest = decide(
            uow, ctx, case, trigger,
            actor=professional_actor(uow, decision.actor_id, DECIDERS),
            occurred_at=ctx.clock.now(), on=max(revue.held_on, case.orientation_date),
            revue_id=revue.id, **fields,
        )  # fmt: skip
        record = RevueDecision(
            revue_id=revue.id, case_reference=decision.case_reference, rubrique=decision.rubrique,
            decision=decision.text, actor_id=decision.actor_id, log_hash=digest, applied_at=ctx.clock.now(),
        )  # fmt: skip
        uow.revues.add_decision(record)
    except WorkflowError as exc:
        savepoint.rollback()
        if isinstance(exc, Forbidden) and not dry_run:
            uow.access_denials.add(exc, ctx.clock.now(), decision.case_reference)
        return Result(decision, DecisionOutcome.REFUSED, str(exc))
    except IntegrityError:  # another process acted the same decision meanwhile (SQLite: no row lock)
        savepoint.rollback()
        return Result(decision, DecisionOutcome.ALREADY, "appliquée entre-temps par un autre processus")
    moved = f"{labels.word(labels.TRIGGERS, trigger)} : {labels.state_change(from_state, case.state)}"
    if dry_run:
        savepoint.rollback()
        return Result(decision, DecisionOutcome.PLANNED, moved)
    savepoint.commit()
    return Result(decision, DecisionOutcome.APPLIED, moved)


def _trigger_for(decision: Decision) -> tuple[str, dict[str, Any]]:
    if decision.verb == ACTER:
        return (ACTER_ENTREE if decision.rubrique == "entrees" else ACTER_SORTIE), {}
    if decision.verb == RENOUVELER_VERB:
        # seed 004 art. 2 g: renewed « par accord entre le binôme … ou lors de la commission mensuelle »
        return RENOUVELER, {"renewal_by": RenewalDecidedBy.COMMISSION}
    return SORTIR, {"exit_reason": decision.exit_reason}
