"""a seat handed to a colleague: whose seat it took ("a colleague comes instead")

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendees") as batch_op:
        batch_op.add_column(sa.Column("substitute_for_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_attendees_substitute_for_id_people",
            "people",
            ["substitute_for_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("attendees") as batch_op:
        batch_op.drop_constraint("fk_attendees_substitute_for_id_people", type_="foreignkey")
        batch_op.drop_column("substitute_for_id")
