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


def downgrade() -> None:
    op.execute("UPDATE mail_messages SET body = '' WHERE body IS NULL")
    with op.batch_alter_table("mail_messages") as batch_op:
        batch_op.alter_column("body", existing_type=sa.LargeBinary(), nullable=False)
