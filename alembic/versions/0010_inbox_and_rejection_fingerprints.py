"""The durable inbox of accepted events; one rejection row per unresolved event; chained seals;
console sessions revoked server-side and sign-in failures counted per account and client.

The inbox replaces the delivery counter: a Celery message now carries inbox ids (or is stored in
the inbox first), and the inbox row counts its own attempts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNRESOLVED = sa.text("resolved_at IS NULL")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "inbox_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("case_reference", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_event")),
        sa.UniqueConstraint("submission", "position", name=op.f("uq_inbox_event_submission")),
    )
    op.create_index(
        "ix_inbox_event_pending", "inbox_event", ["queued_at"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.create_index("ix_inbox_event_sender_event_id", "inbox_event", ["sender", "event_id"])
    with op.batch_alter_table("rejected_event") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("last_rejected_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_rejected_event_unresolved_fingerprint", "rejected_event", ["fingerprint"], unique=True,
        sqlite_where=UNRESOLVED, postgresql_where=UNRESOLVED,
    )  # fmt: skip
    op.drop_table("task_delivery")
    with op.batch_alter_table("audit_seal") as batch:
        batch.add_column(sa.Column("prev_hmac", sa.String(length=64), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("professional_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["professional_id"], ["professional.id"], name=op.f("fk_web_session_professional_id_professional")
        ),
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_professional_id"), "web_session", ["professional_id"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    for column in ("account", "client", "at"):
        op.create_index(op.f(f"ix_sign_in_failure_{column}"), "sign_in_failure", [column])
    with op.batch_alter_table("web_account") as batch:
        batch.drop_column("failed_attempts")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("web_account") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("sign_in_failure")
    op.drop_table("web_session")
    with op.batch_alter_table("audit_seal") as batch:
        batch.drop_column("prev_hmac")
    op.create_table(
        "task_delivery",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_task_delivery")),
    )
    op.drop_index("uq_rejected_event_unresolved_fingerprint", table_name="rejected_event")
    with op.batch_alter_table("rejected_event") as batch:
        batch.drop_column("occurred_at")
        batch.drop_column("last_rejected_at")
        batch.drop_column("occurrences")
        batch.drop_column("fingerprint")
    op.drop_index("ix_inbox_event_sender_event_id", table_name="inbox_event")
    op.drop_index("ix_inbox_event_pending", table_name="inbox_event")
    op.drop_table("inbox_event")
