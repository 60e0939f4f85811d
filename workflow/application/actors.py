"""Who acts: the professional an event or a decision names, checked against the directory."""

from __future__ import annotations

from models import Professional
from workflow.adapters.unit_of_work import UnitOfWork
from workflow.domain.decision import Actor
from workflow.domain.errors import EventRejected
from workflow.domain.events import ActorRef
from workflow.domain.vocabulary import Role


def event_actor(uow: UnitOfWork, ref: ActorRef, *roles: Role) -> Actor:
    """The actor an event names, checked against the directory (the system actor excepted)."""
    actor = Actor(ref.id, Role(ref.role))
    if actor.role == Role.SYSTEME:
        return actor
    professional(uow, actor.id, actor.role, "actor")
    if roles and actor.role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise EventRejected(f"actor {actor.id} acts as {actor.role}; this event needs {allowed}")
    return actor


def professional_actor(uow: UnitOfWork, pid: str, roles: frozenset[Role]) -> Actor:
    """A professional of the directory acting under their own role, which must be one of `roles`
    (a decision recorded from a file names its actor by id only)."""
    pro = professional(uow, pid, None, "actor")
    if pro.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise EventRejected(f"actor {pid} is a {pro.role}; this decision is taken by a {allowed}")
    return Actor(pro.id, Role(pro.role))


def professional(uow: UnitOfWork, pid: str, role: Role | None, what: str) -> Professional:
    """A professional of the directory, active, with the given role (any role if None)."""
    pro = uow.professionals.get(pid)
    if pro is None:
        raise EventRejected(
            f"{what} {pid} is not in the directory of professionals "
            "(import it with `accompagnement professionals import`)"
        )
    if role is not None and pro.role != role:
        raise EventRejected(f"{what} {pid} is a {pro.role}, not a {role}")
    if not pro.active:
        raise EventRejected(f"{what} {pid} is no longer active")
    return pro
