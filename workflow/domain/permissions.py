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

- a decision on a case is taken by the people of the case (`check_member`): its binôme (seeds
  000/001 art. 3.3: the conseiller and the référent social decide together); at a revue de
  portefeuille or by the commission, the agency's people (seed 004 art. 5.2: the monthly revue
  « acte » the entries, renewals and exits of the agency's cases and gathers its conseillers and
  the social workers dedicated to its territory); before a binôme is named, the case's orienteur,
  a conseiller of its agency, or the binôme being named.

A refusal raises `Forbidden`; the caller records it (`AccessDenial`) in the transaction it
commits, so the refusal itself stays on record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from workflow.domain.attempt import Actor
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
from workflow.domain.records import CaseFields, ProfessionalFields
from workflow.domain.vocabulary import ExitReason, Partner, Role

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
        raise Forbidden(actor.id, actor.role, trigger, f"{trigger} revient à : {roles or 'personne'}")
    if actor.role == Role.SYSTEME and trigger == SORTIR and exit_reason not in SYSTEM_EXITS:
        left = ", ".join(sorted(SYSTEM_EXITS))
        why = f"le système ne clôt un dossier que lorsque la personne a quitté les listes ({left})"
        raise Forbidden(actor.id, actor.role, trigger, why)


# The actors a calling system may name, by the partner it speaks for: France Travail's
# conseillers and its flows (registration, radiation: the system actor), the Département's social
# workers, and an orientation made by any of them or a platform.
PARTNER_ROLES: Mapping[Partner, frozenset[Role]] = {
    Partner.FRANCE_TRAVAIL: frozenset({Role.CONSEILLER, Role.ORIENTEUR, Role.SYSTEME}),
    Partner.DEPARTEMENT: frozenset({Role.REFERENT_SOCIAL, Role.REFERENT_AG, Role.ORIENTEUR}),
    Partner.PLATEFORME: frozenset({Role.ORIENTEUR}),
}
PARTNER_NAMES = {Partner.FRANCE_TRAVAIL: "France Travail", Partner.DEPARTEMENT: "le Département",
                 Partner.PLATEFORME: "une plateforme d'orientation"}  # fmt: skip


def speaks_for(system: str, partner: str | None, actor_id: str, actor_role: str) -> str | None:
    """Why a calling system may not send an event naming this actor, in French; None if it may."""
    if partner is None or partner not in PARTNER_ROLES:
        return (f"le jeton du système {system} ne dit pas pour quel partenaire il parle : refaites-le "
                f"avec `accompagnement web token {system} --partenaire …`")  # fmt: skip
    if actor_role in PARTNER_ROLES[Partner(partner)]:
        return None
    return (f"le système {system} parle pour {PARTNER_NAMES[Partner(partner)]} : il ne peut pas envoyer "
            f"un événement de {actor_id} ({actor_role})")  # fmt: skip


# Decisions a revue de portefeuille (or the commission) takes on any case of its agency.
COLLEGIAL = frozenset({ACTER_ENTREE, ACTER_SORTIE, RENOUVELER, SORTIR})


def is_member(actor: Actor, trigger: str, case: CaseFields, named: tuple[str | None, str | None]) -> bool:
    """Whether the case alone makes the actor one of its people for this decision (if not,
    `check_member` asks about the actor's tie to the case's agency)."""
    if actor.role == Role.SYSTEME or trigger in (ORIENTER, SIGNALER_ECHU):
        return True  # the system's own moves (`check_trigger` bounds them); opening has no case yet
    binome = {case.conseiller_id, case.referent_social_id} - {None}
    if actor.id in binome or (trigger == AFFECTER_BINOME and actor.id in named):
        return True
    return not binome and actor.id == case.orienteur_id


def check_member(
    actor: Actor, trigger: str, case: CaseFields, named: tuple[str | None, str | None], *, collegial: bool,
    of_agency: Callable[[], bool],
) -> None:  # fmt: skip
    """Raise Forbidden unless the actor is one of the case's people for this decision (see the
    module's docstring). `collegial`: taken at a revue de portefeuille or by the commission;
    `of_agency`: whether the actor takes part in the revue of the case's agency (a conseiller of
    the agency, a référent social of one of its open cases), asked only when the case alone does
    not settle it (it reads the database)."""
    if is_member(actor, trigger, case, named):
        return
    no_binome = not (case.conseiller_id or case.referent_social_id)
    if (no_binome or (collegial and trigger in COLLEGIAL)) and of_agency():
        return
    binome = " et ".join(p for p in (case.conseiller_id, case.referent_social_id) if p) or "pas encore nommé"
    why = (f"{actor.id} n'est pas du binôme du dossier {case.reference} ({binome}) : seul le binôme "
           "décide, ou la revue de portefeuille de l'agence pour une entrée, un renouvellement ou une "
           "sortie (convention 004 art. 5.2)")  # fmt: skip
    raise Forbidden(actor.id, actor.role, trigger, why)


@dataclass(frozen=True)
class ReadScope:
    """The cases a reader may see, said as data (`workflow.adapters.read_scope` makes it a
    query's condition): every case, those of a département, or those where one professional is
    conseiller, référent social or orienteur; none of these: no case at all."""

    everything: bool = False
    departement: str | None = None
    professional: str | None = None


NO_CASE = ReadScope()


def read_scope(reader: ProfessionalFields | None) -> ReadScope:
    """Whose cases `reader` reads (None: the operator's own tools)."""
    if reader is None or reader.role == Role.OPERATEUR:
        return ReadScope(everything=True)
    if reader.role == Role.SUPERVISEUR:
        return ReadScope(departement=reader.departement)
    if reader.role in (Role.CONSEILLER, Role.REFERENT_SOCIAL, Role.ORIENTEUR):
        return ReadScope(professional=reader.id)
    return NO_CASE


def may_read(reader: ProfessionalFields | None, case: CaseFields) -> bool:
    """`read_scope` for one case already loaded."""
    scope = read_scope(reader)
    if scope.everything:
        return True
    if scope.departement is not None:
        return case.convention_code == scope.departement
    if scope.professional is not None:
        return scope.professional in (case.conseiller_id, case.referent_social_id, case.orienteur_id)
    return False
