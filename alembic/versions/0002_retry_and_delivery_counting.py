"""Rejected events can be resolved by a retry; task deliveries are counted (poison messages).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:30:04.236376
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_delivery",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_task_delivery")),
    )
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_at")

    op.drop_table("task_delivery")
