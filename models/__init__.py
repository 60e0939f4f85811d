"""Storage: SQLAlchemy tables and the engine/session factory. Knows nothing of rules."""

from models.audit import TransitionLog
from models.base import Base
from models.cases import Appointment, Case
from models.conventions import ConventionVersion
from models.db import database_url, make_engine, make_session_factory
from models.events import ProcessedEvent, RejectedEvent, TaskDelivery
from models.people import Person, Professional

__all__ = [
    "Appointment",
    "Base",
    "Case",
    "ConventionVersion",
    "Person",
    "ProcessedEvent",
    "Professional",
    "RejectedEvent",
    "TaskDelivery",
    "TransitionLog",
    "database_url",
    "make_engine",
    "make_session_factory",
]
