"""Each inbox row's person, and the deferred row's next try: one person's events in order.

`person_key` names the person an event concerns (their France Travail identifier, or the case
reference while the case's person is not known yet), computed at the door: a worker takes a
person's rows only from the first one still to try, so a person's events are applied in the
order they were accepted, whatever the number of workers. `not_before` and `deferrals` keep a
premature event's wait in the database instead of a delayed message. Rows stored before this
revision have no person: each is its own line, as they were.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("inbox_event") as batch:
        batch.add_column(sa.Column("person_key", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deferrals", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_inbox_event_waiting_person", "inbox_event", ["person_key", "id"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    # One pending copy of an event at most. Copies accepted twice before this revision (a resend
    # while the first waited) are settled as the duplicates they are, the first copy kept.
    op.execute(
        "UPDATE inbox_event SET status = 'duplicate', settled_at = accepted_at, "
        "reason = 'a second copy of an event still waiting when the order was kept: applied once' "
        "WHERE status = 'pending' AND event_id IS NOT NULL AND id NOT IN "
        "(SELECT min(id) FROM inbox_event WHERE status = 'pending' AND event_id IS NOT NULL GROUP BY event_id)"
    )
    op.create_index(
        "uq_inbox_event_waiting_event_id", "inbox_event", ["event_id"], unique=True,
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_inbox_event_waiting_event_id", table_name="inbox_event")
    op.drop_index("ix_inbox_event_waiting_person", table_name="inbox_event")
    with op.batch_alter_table("inbox_event") as batch:
        batch.drop_column("deferrals")
        batch.drop_column("not_before")
        batch.drop_column("person_key")
