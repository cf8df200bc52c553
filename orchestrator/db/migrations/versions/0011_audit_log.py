"""audit log, who a sign-in link is for, program previews

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_audit_entries_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_event_id_id", "audit_entries", ["event_id", "id"])
    op.create_table(
        "program_previews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_slug", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_previews")),
    )
    op.create_index(op.f("ix_program_previews_event_slug"), "program_previews", ["event_slug"])
    op.create_index(
        "ix_dashboard_updates_event_id_reason_id",
        "dashboard_updates",
        ["event_id", "reason", "id"],
    )
    with op.batch_alter_table("login_links") as batch_op:
        batch_op.add_column(
            sa.Column("subject", sa.String(length=120), server_default="", nullable=False)
        )


def downgrade() -> None:
    op.drop_index("ix_dashboard_updates_event_id_reason_id", table_name="dashboard_updates")
    op.drop_index(op.f("ix_program_previews_event_slug"), table_name="program_previews")
    op.drop_table("program_previews")
    with op.batch_alter_table("login_links") as batch_op:
        batch_op.drop_column("subject")
    op.drop_index("ix_audit_entries_event_id_id", table_name="audit_entries")
    op.drop_table("audit_entries")
