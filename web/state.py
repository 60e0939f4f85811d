"""What every request handler reaches: the process's wiring, and the exceptions a page raises
for the application to answer (a sign-in redirect, a refusal page)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from models import Professional
from web.auth import RecentTokens
from web.group_commit import GroupCommit
from workflow.application.inbox import Parcel, Receipt, Routed
from workflow.application.service_context import Context
from workflow.bootstrap import Runtime
from workflow.domain.clock import Clock

if TYPE_CHECKING:
    from web.proconnect import ProConnect

QueueEvents = Callable[[Routed], None]  # inbox ids by département, in order


class NotSignedIn(Exception):
    """A page needs a signed-in professional: the handler sends them to the sign-in form."""


class PageForbidden(Exception):
    """A page the reader may not see (403), or asked with a value it cannot use (400); the
    refusal page keeps their navigation bar."""

    def __init__(self, message: str, user: Professional | None = None, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.user = user
        self.status = status


@dataclass
class Web:
    runtime: Runtime
    queue: QueueEvents
    tokens: RecentTokens = field(default_factory=RecentTokens)
    proconnect: ProConnect | None = None  # sign-in with ProConnect, when configured
    local_passwords: bool = True  # the console's own passwords (ACCOMPAGNEMENT_LOCAL_PASSWORDS=0: off)
    door: GroupCommit[Parcel, Receipt] = field(init=False)  # the event door's committer (`web.api.store`)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.runtime.sessions

    @property
    def ctx(self) -> Context:
        return self.runtime.ctx

    @property
    def clock(self) -> Clock:
        return self.runtime.clock
