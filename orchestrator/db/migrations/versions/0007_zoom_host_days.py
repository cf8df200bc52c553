"""zoom host days

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zoom_host_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=254), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_host_days")),
        sa.UniqueConstraint("host", "day", name=op.f("uq_zoom_host_days_host_day")),
    )


def downgrade() -> None:
    op.drop_table("zoom_host_days")
