"""Who acts: the professional an event or a decision names, checked against the directory."""

from __future__ import annotations

from models import Professional
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.domain import labels
from workflow.domain.attempt import Actor
from workflow.domain.errors import EventRejected
from workflow.domain.events import ActorRef
from workflow.domain.vocabulary import Role


def event_actor(uow: UnitOfWork, ref: ActorRef, *roles: Role) -> Actor:
    """The actor an event names, checked against the directory (the system actor excepted)."""
    actor = Actor(ref.id, Role(ref.role))
    if actor.role == Role.SYSTEME:
        return actor
    professional(uow, actor.id, actor.role, "l'acteur")
    if roles and actor.role not in roles:
        allowed = ", ".join(labels.word(labels.ROLES, r) for r in roles)
        raise EventRejected(
            f"l'acteur {actor.id} agit comme {labels.word(labels.ROLES, actor.role)} ; "
            f"cet événement demande : {allowed}"
        )
    return actor


def professional_actor(uow: UnitOfWork, pid: str, roles: frozenset[Role]) -> Actor:
    """A professional of the directory acting under their own role, which must be one of `roles`
    (a decision recorded from a file names its actor by id only)."""
    pro = professional(uow, pid, None, "l'acteur")
    if pro.role not in roles:
        allowed = ", ".join(sorted(labels.word(labels.ROLES, r) for r in roles))
        raise EventRejected(
            f"l'acteur {pid} est {labels.word(labels.ROLES, pro.role)} ; cette décision revient à : {allowed}"
        )
    return Actor(pro.id, Role(pro.role))


def professional(uow: UnitOfWork, pid: str, role: Role | None, what: str) -> Professional:
    """A professional of the directory, active, with the given role (any role if None)."""
    pro = uow.professionals.get(pid)
    if pro is None:
        raise EventRejected(
            f"{what} {pid} n'est pas dans l'annuaire des professionnels "
            "(l'importer avec `accompagnement professionals import`)"
        )
    if role is not None and pro.role != role:
        raise EventRejected(
            f"{what} {pid} est {labels.word(labels.ROLES, pro.role)}, pas {labels.word(labels.ROLES, role)}"
        )
    if not pro.active:
        raise EventRejected(f"{what} {pid} n'est plus actif")
    return pro
