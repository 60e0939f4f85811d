"""Who may do what: one table of the triggers each role may fire, and who may read which case.

All seeds, article on déontologie: the professionals are bound by professional secrecy and the
data is accessed only by the authorised agents. So:
- a professional reads the cases of their binômes (as conseiller or référent social) and those
  they oriented; a superviseur reads every case of their département and triggers nothing; the
  operator runs the service and reads everything; the référent AG is told by email and reads no
  case here; the system actor (flows from other information systems) reads nothing;
- a trigger is fired only by the roles of `MAY_TRIGGER`: the France Travail contract is signed by
  the conseiller (seeds 000/001 art. 3.4: « un contrat d'engagement signé avec Pôle emploi »), not
  by the social worker for them; the system actor only closes a case whose person left the
  registers (seeds 000/001 art. 3.5) and flags for the revue a contract that ran out.

A refusal raises `Forbidden`; the caller records it (`AccessDenial`) in the transaction it
commits, so the refusal itself stays on record.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import ColumnElement, false, or_, true

from models import Case, Professional
from workflow.domain.decision import Actor
from workflow.domain.errors import Forbidden
from workflow.domain.lifecycle import (
    ACTER_ENTREE,
    ACTER_SORTIE,
    AFFECTER_BINOME,
    ORIENTER,
    POSER_DIAGNOSTIC,
    RECUEILLIR_ADHESION,
    RENOUVELER,
    SIGNALER_ECHU,
    SIGNER_CONTRAT,
    SORTIR,
)
from workflow.domain.vocabulary import ExitReason, Role

_BINOME_DECISIONS = frozenset(
    {AFFECTER_BINOME, RECUEILLIR_ADHESION, POSER_DIAGNOSTIC, RENOUVELER, SORTIR, ACTER_ENTREE, ACTER_SORTIE}
)
MAY_TRIGGER: Mapping[Role, frozenset[str]] = {
    Role.ORIENTEUR: frozenset({ORIENTER}),
    Role.CONSEILLER: _BINOME_DECISIONS | {ORIENTER, SIGNER_CONTRAT},
    Role.REFERENT_SOCIAL: _BINOME_DECISIONS | {ORIENTER},
    Role.REFERENT_AG: frozenset(),
    Role.SUPERVISEUR: frozenset(),
    Role.OPERATEUR: frozenset(),
    Role.SYSTEME: frozenset({SORTIR, SIGNALER_ECHU}),
}
SYSTEM_EXITS = frozenset({ExitReason.FIN_INSCRIPTION, ExitReason.RADIATION})


def check_trigger(actor: Actor, trigger: str, exit_reason: ExitReason | None = None) -> None:
    """Raise Forbidden unless the actor's role may fire the trigger."""
    allowed = MAY_TRIGGER.get(actor.role, frozenset())
    if trigger not in allowed:
        roles = ", ".join(sorted(role for role, triggers in MAY_TRIGGER.items() if trigger in triggers))
        raise Forbidden(actor.id, actor.role, trigger, f"{trigger} is for: {roles or 'nobody'}")
    if actor.role == Role.SYSTEME and trigger == SORTIR and exit_reason not in SYSTEM_EXITS:
        left = ", ".join(sorted(SYSTEM_EXITS))
        why = f"the system actor closes a case only when the person left the registers ({left})"
        raise Forbidden(actor.id, actor.role, trigger, why)


def readable(reader: Professional | None) -> ColumnElement[bool]:
    """The cases a reader may see, as a condition on `Case` (None: the operator's own tools)."""
    if reader is None or reader.role == Role.OPERATEUR:
        return true()
    if reader.role == Role.SUPERVISEUR:
        return Case.convention_code == reader.departement
    if reader.role in (Role.CONSEILLER, Role.REFERENT_SOCIAL, Role.ORIENTEUR):
        return or_(
            Case.conseiller_id == reader.id,
            Case.referent_social_id == reader.id,
            Case.orienteur_id == reader.id,
        )
    return false()


def may_read(reader: Professional | None, case: Case) -> bool:
    """`readable` for one case already loaded."""
    if reader is None or reader.role == Role.OPERATEUR:
        return True
    if reader.role == Role.SUPERVISEUR:
        return case.convention_code == reader.departement
    if reader.role in (Role.CONSEILLER, Role.REFERENT_SOCIAL, Role.ORIENTEUR):
        return reader.id in (case.conseiller_id, case.referent_social_id, case.orienteur_id)
    return False
