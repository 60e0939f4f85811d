"""The clients a professional signed in from: an account tried from everywhere is slowed for
other clients, never locked for these.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_client",
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account"], ["professional.id"], name=op.f("fk_sign_in_client_account_professional")
        ),
        sa.PrimaryKeyConstraint("account", "client", name=op.f("pk_sign_in_client")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_client")
