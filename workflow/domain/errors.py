"""The errors the domain raises, each carrying a message meant for people."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every refusal the service explains to its caller.

    `premature` is true when the refusal may be only a matter of order: with events arriving
    through several workers, an earlier event of the same case may still be in flight, so a
    caller that can wait tries again shortly before calling it a rejection.
    """

    premature: bool = False


class ConfigurationError(WorkflowError):
    """A configuration file or setting is wrong; the message names the file and field."""


class TransitionRefused(WorkflowError):
    """A transition refused; the message names every rule that refused it and its seed.

    Premature when the trigger is not allowed from the open case's current state (an earlier
    event may put it there); never for a closed case, which no later event reopens, nor for a
    guard's refusal, which names what is missing.
    """

    def __init__(self, trigger: str, state: str, reasons: list[str] | str, premature: bool = False) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        self.reason = " ; ".join(self.reasons)
        from workflow.domain import labels  # at the refusal: the labels read the lifecycle, which reads this

        what, where = labels.word(labels.TRIGGERS, trigger), labels.word(labels.STATES, state)
        super().__init__(f"refus de « {what} » dans l'état « {where} » : {self.reason}")
        self.trigger = trigger
        self.state = state
        self.premature = premature


class EventRejected(WorkflowError):
    """An event cannot be applied: unknown case, unknown professional, inconsistent data."""


class UnknownCase(EventRejected):
    """An event names a case that does not exist. Premature: the likeliest cause is the event
    opening it still on its way through another worker (refused after the last retry)."""

    premature = True


class Forbidden(WorkflowError):
    """The actor's role may not do this (`workflow.domain.permissions`); the refusal is kept on record."""

    def __init__(self, actor_id: str, actor_role: str, action: str, reason: str) -> None:
        from workflow.domain import labels

        role, act = labels.word(labels.ROLES, str(actor_role)), labels.word(labels.ACCESS_ACTIONS, action)
        super().__init__(f"interdit : {actor_id} ({role}) ne peut pas faire « {act} » : {reason}")
        self.actor_id = actor_id
        self.actor_role = str(actor_role)
        self.action = action
        self.reason = reason


class NotFound(WorkflowError):
    """A case, person or row asked for by reference does not exist."""


class EffectFailed(RuntimeError):
    """A transition's effect raised after the state moved: not a refusal but a fault. The
    transaction must be rolled back (the batch path then retries event by event)."""


class ConcurrentUpdate(Exception):
    """Another transaction changed the same rows first (a unique key taken meanwhile, a stale
    version). Not a WorkflowError: trying again sees the winner's commit and decides properly."""
