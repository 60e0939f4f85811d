"""Writers of a case serialize on its row lock; the version column, which kept the ORM from
batching case updates, goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:51:05.151404
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("version")


def downgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.INTEGER(), nullable=False, server_default="1"))
