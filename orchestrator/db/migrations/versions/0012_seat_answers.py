"""each seat's answer: accepted, tentative or declined, when, from where, and the reason given

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendees") as batch_op:
        batch_op.add_column(
            sa.Column("answer", sa.String(length=16), server_default="needs-action", nullable=False)
        )
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answer_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("answer_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attendees") as batch_op:
        batch_op.drop_column("answer_reason")
        batch_op.drop_column("answer_source")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answer")
