"""outbound webhooks: subscriptions per event, the messages changes produce, their deliveries

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_outbound_subscriptions_event_id_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_subscriptions"),
    )
    op.create_index("ix_outbound_subscriptions_event_id", "outbound_subscriptions", ["event_id"])
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_outbound_messages_event_id_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_messages"),
        sa.UniqueConstraint("message_id", name="uq_outbound_messages_message_id"),
    )
    op.create_index("ix_outbound_messages_event_id", "outbound_messages", ["event_id"])
    op.create_table(
        "outbound_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbound_messages.id"],
            name="fk_outbound_deliveries_message_id_outbound_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["outbound_subscriptions.id"],
            name="fk_outbound_deliveries_subscription_id_outbound_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_deliveries"),
        sa.UniqueConstraint(
            "message_id",
            "subscription_id",
            name="uq_outbound_deliveries_message_id_subscription_id",
        ),
    )
    waiting = sa.text("status IN ('pending', 'sending')")
    op.create_index(
        "ix_outbound_deliveries_due",
        "outbound_deliveries",
        ["next_attempt_at"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    op.create_index(
        "ix_outbound_deliveries_subscription_id_id",
        "outbound_deliveries",
        ["subscription_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_deliveries_subscription_id_id", table_name="outbound_deliveries")
    op.drop_index("ix_outbound_deliveries_due", table_name="outbound_deliveries")
    op.drop_table("outbound_deliveries")
    op.drop_index("ix_outbound_messages_event_id", table_name="outbound_messages")
    op.drop_table("outbound_messages")
    op.drop_index("ix_outbound_subscriptions_event_id", table_name="outbound_subscriptions")
    op.drop_table("outbound_subscriptions")
