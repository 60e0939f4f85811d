"""The reminder plan derived from the case, not stored; the log chain's head on the case row;
the inbox's waiting rows indexed in arrival order, for the workers' micro-batches; the case's
state no longer indexed on its own.

A transition used to rewrite the case's pending reminder rows (three cancelled, three added on a
renewal). The case row now holds the day of its next reminder and the daily scan writes a
reminder row only once it is due. Pending rows become that day and are deleted; queued and
cancelled rows stay as the history they are. The case row also keeps its chain's last seq and
hash, so appending a log row needs no query of the log.

A downgrade keeps the history but not the plan: pending rows are not rebuilt (the rules that
derive them live in the service, not in the migration).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLANNED = sa.text("next_reminder_on IS NOT NULL")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("case_file") as batch:
        batch.add_column(sa.Column("next_reminder_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("log_seq", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("log_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE case_file SET next_reminder_on = (SELECT min(r.due_date) FROM reminder r "
        "WHERE r.case_id = case_file.id AND r.status = 'pending')"
    )
    op.execute(
        "UPDATE case_file SET log_seq = l.seq, log_hash = l.hash FROM transition_log l "
        "WHERE l.case_id = case_file.id AND l.seq = "
        "(SELECT max(m.seq) FROM transition_log m WHERE m.case_id = case_file.id)"
    )
    op.execute("DELETE FROM reminder WHERE status = 'pending'")
    op.drop_index("ix_reminder_pending_due", table_name="reminder")
    op.create_index(
        "ix_case_file_next_reminder", "case_file", ["next_reminder_on", "id"],
        sqlite_where=PLANNED, postgresql_where=PLANNED,
    )  # fmt: skip
    op.create_index(
        "ix_inbox_event_waiting", "inbox_event", ["id"], sqlite_where=PENDING, postgresql_where=PENDING
    )
    # (state, contract_end) serves queries by state alone; one index less to write per update.
    op.drop_index("ix_case_file_state", table_name="case_file")


def downgrade() -> None:
    op.create_index("ix_case_file_state", "case_file", ["state"])
    op.drop_index("ix_inbox_event_waiting", table_name="inbox_event")
    op.drop_index("ix_case_file_next_reminder", table_name="case_file")
    op.create_index(
        "ix_reminder_pending_due", "reminder", ["due_date", "id"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    with op.batch_alter_table("case_file") as batch:
        batch.drop_column("log_hash")
        batch.drop_column("log_seq")
        batch.drop_column("next_reminder_on")
