"""Storage: SQLAlchemy tables and the engine/session factory. Knows nothing of rules."""

from models.audit import AccessDenial, AuditSeal, TransitionLog
from models.base import Base
from models.cases import Appointment, Case
from models.conventions import ConventionVersion
from models.db import database_url, make_engine, make_session_factory
from models.events import InboxEvent, ProcessedEvent, RejectedEvent
from models.people import Person, Professional
from models.reminders import Email, Reminder, email_reminder
from models.revues import Revue, RevueDecision
from models.schedule import ScheduledRun
from models.web import ApiToken, CalendarFeed, SignInClient, SignInFailure, WebAccount, WebSession

__all__ = [
    "AccessDenial",
    "ApiToken",
    "Appointment",
    "AuditSeal",
    "Base",
    "CalendarFeed",
    "Case",
    "ConventionVersion",
    "Email",
    "InboxEvent",
    "Person",
    "ProcessedEvent",
    "Professional",
    "RejectedEvent",
    "Reminder",
    "Revue",
    "RevueDecision",
    "ScheduledRun",
    "SignInClient",
    "SignInFailure",
    "TransitionLog",
    "WebAccount",
    "WebSession",
    "database_url",
    "email_reminder",
    "make_engine",
    "make_session_factory",
]
