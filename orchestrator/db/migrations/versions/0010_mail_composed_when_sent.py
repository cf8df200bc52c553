"""mail composed when sent

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_messages") as batch_op:
        batch_op.alter_column("body", existing_type=sa.LargeBinary(), nullable=True)
    op.create_table(
        "mail_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_mail_plans_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_plans")),
    )


def downgrade() -> None:
    op.drop_table("mail_plans")
    op.execute("UPDATE mail_messages SET body = '' WHERE body IS NULL")
    with op.batch_alter_table("mail_messages") as batch_op:
        batch_op.alter_column("body", existing_type=sa.LargeBinary(), nullable=False)
