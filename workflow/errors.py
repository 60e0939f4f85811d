"""The errors the domain raises, each carrying a message meant for people."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of every refusal the service explains to its caller."""


class ConfigurationError(WorkflowError):
    """A configuration file or setting is wrong; the message names the file and field."""


class TransitionRefused(WorkflowError):
    """A guard refused a transition; the message names the rule and its seed."""

    def __init__(self, trigger: str, state: str, reason: str) -> None:
        super().__init__(f"{trigger} refused from state {state}: {reason}")
        self.trigger = trigger
        self.state = state
        self.reason = reason


class EventRejected(WorkflowError):
    """An event cannot be applied: unknown case, unknown professional, inconsistent data."""


class NotFound(WorkflowError):
    """A case, person or row asked for by reference does not exist."""
