"""the schedule's refill rule: "auto" re-fills a meeting declined ahead at once

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_schedules") as batch_op:
        batch_op.add_column(sa.Column("refill", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting_schedules") as batch_op:
        batch_op.drop_column("refill")
