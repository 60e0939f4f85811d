"""The inbox row's département, so that workers can be routed by département.

A deployment that runs workers per département (`ACCOMPAGNEMENT_ROUTE_BY_DEPARTEMENT`) sends
each row to its département's queue and each worker drains the waiting rows of its own. Rows
stored before this revision have no département: they are carried by the default queue. The
waiting rows are also indexed by case, so that an event whose case is still an orientation in
the inbox takes that orientation's route.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("inbox_event") as batch:
        batch.add_column(sa.Column("departement", sa.String(length=3), nullable=True))
    op.create_index(
        "ix_inbox_event_waiting_departement", "inbox_event", ["departement", "id"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.create_index(
        "ix_inbox_event_waiting_case", "inbox_event", ["case_reference"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_inbox_event_waiting_case", table_name="inbox_event")
    op.drop_index("ix_inbox_event_waiting_departement", table_name="inbox_event")
    with op.batch_alter_table("inbox_event") as batch:
        batch.drop_column("departement")
