"""When an appointment was fixed: the instant of the event that planned it.

A case at a past day (`accompagnement case show --at`) shows the appointments fixed by then, and
its convocation deadline is met only if one was; the day an appointment takes place says
nothing of when it was fixed. Rows planned before this revision keep NULL and are read as fixed
on their own day.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointment") as batch:
        batch.add_column(sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appointment") as batch:
        batch.drop_column("booked_at")
