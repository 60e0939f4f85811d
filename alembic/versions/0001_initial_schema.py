"""Initial schema: people, conventions, cases, appointments, transition log, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 06:11:57.105944
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "convention_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("defaulted", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convention_version")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_convention_version_code")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ft_identifier", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("agence", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("ft_identifier", name=op.f("uq_person_ft_identifier")),
    )
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("case_reference", sa.String(length=40), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_event")),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_event_applied_at"), ["applied_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_processed_event_case_reference"), ["case_reference"], unique=False
        )

    op.create_table(
        "professional",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("agence", sa.String(length=64), nullable=True),
        sa.Column("territory", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_professional")),
    )
    op.create_table(
        "rejected_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("case_reference", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_event")),
    )
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejected_event_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rejected_event_rejected_at"), ["rejected_at"], unique=False)

    op.create_table(
        "case_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("convention_code", sa.String(length=3), nullable=False),
        sa.Column("convention_version_id", sa.Integer(), nullable=True),
        sa.Column("agence", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("conseiller_id", sa.String(length=32), nullable=True),
        sa.Column("referent_social_id", sa.String(length=32), nullable=True),
        sa.Column("orienteur_id", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=24), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("barriers", sa.JSON(), nullable=False),
        sa.Column("other_barrier_agreed", sa.Boolean(), nullable=False),
        sa.Column("diagnostic_kind", sa.String(length=24), nullable=True),
        sa.Column("conseiller_opinion", sa.String(length=16), nullable=True),
        sa.Column("referent_opinion", sa.String(length=16), nullable=True),
        sa.Column("orientation_date", sa.Date(), nullable=False),
        sa.Column("diagnostic_date", sa.Date(), nullable=True),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("renewal_count", sa.Integer(), nullable=False),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("exit_date", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conseiller_id"],
            ["professional.id"],
            name=op.f("fk_case_file_conseiller_id_professional"),
        ),
        sa.ForeignKeyConstraint(
            ["convention_version_id"],
            ["convention_version.id"],
            name=op.f("fk_case_file_convention_version_id_convention_version"),
        ),
        sa.ForeignKeyConstraint(
            ["orienteur_id"],
            ["professional.id"],
            name=op.f("fk_case_file_orienteur_id_professional"),
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_case_file_person_id_person")),
        sa.ForeignKeyConstraint(
            ["referent_social_id"],
            ["professional.id"],
            name=op.f("fk_case_file_referent_social_id_professional"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file")),
        sa.UniqueConstraint("reference", name=op.f("uq_case_file_reference")),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index("ix_case_file_agence_state", ["agence", "state"], unique=False)
        batch_op.create_index("ix_case_file_conseiller_state", ["conseiller_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_state"), ["state"], unique=False)
        batch_op.create_index("ix_case_file_state_contract_end", ["state", "contract_end"], unique=False)

    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("professional_id", sa.String(length=32), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_appointment_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_appointment_professional_id_professional"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
        sa.UniqueConstraint("external_id", name=op.f("uq_appointment_external_id")),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_case_id"), ["case_id"], unique=False)

    op.create_table(
        "transition_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_reference", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_transition_log_case_id_case_file"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transition_log")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_transition_log_case_id")),
    )
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transition_log_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transition_log_case_reference"), ["case_reference"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transition_log_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_transition_log_trigger"), ["trigger"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transition_log_trigger"))
        batch_op.drop_index(batch_op.f("ix_transition_log_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_transition_log_case_reference"))
        batch_op.drop_index(batch_op.f("ix_transition_log_actor_id"))

    op.drop_table("transition_log")
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_case_id"))

    op.drop_table("appointment")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index("ix_case_file_state_contract_end")
        batch_op.drop_index(batch_op.f("ix_case_file_state"))
        batch_op.drop_index(batch_op.f("ix_case_file_person_id"))
        batch_op.drop_index("ix_case_file_conseiller_state")
        batch_op.drop_index("ix_case_file_agence_state")

    op.drop_table("case_file")
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_event_rejected_at"))
        batch_op.drop_index(batch_op.f("ix_rejected_event_event_id"))

    op.drop_table("rejected_event")
    op.drop_table("professional")
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_case_reference"))
        batch_op.drop_index(batch_op.f("ix_processed_event_applied_at"))

    op.drop_table("processed_event")
    op.drop_table("person")
    op.drop_table("convention_version")
