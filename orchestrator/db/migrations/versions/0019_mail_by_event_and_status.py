"""mail messages indexed by event and status (the dashboard's count of failed mail)

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mail_messages_event_status", "mail_messages", ["event_id", "status"])
    op.drop_index("ix_mail_messages_event_id", table_name="mail_messages")


def downgrade() -> None:
    op.create_index("ix_mail_messages_event_id", "mail_messages", ["event_id"])
    op.drop_index("ix_mail_messages_event_status", table_name="mail_messages")
