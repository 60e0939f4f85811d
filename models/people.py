"""The people the service knows: the person accompanied and the professionals.

Data minimisation (all seeds, article on déontologie / RGPD): a person is known by their
France Travail identifier and the facts the rules need, not by name or address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    ft_identifier: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # BRSA, ASS, ARE, BOE, autre
    registered: Mapped[bool] = mapped_column(Boolean)
    departement: Mapped[str] = mapped_column(String(3))
    agence: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the retention (`audit.personal_data`): the identifier is a random pseudonym since.
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Professional(Base):
    """A conseiller, référent social, orienteur, superviseur or operator.

    Rows are never deleted while a log row names them: the transition log keeps its
    actor ids forever, for traceability.
    """

    __tablename__ = "professional"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    departement: Mapped[str] = mapped_column(String(3))
    agence: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
