"""what came of each meeting: each side's answer after it, and months later

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_meeting_outcomes_event_id_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_meeting_outcomes_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_meeting_outcomes_person_id_people",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_outcomes"),
        sa.UniqueConstraint("token", name="uq_meeting_outcomes_token"),
        sa.UniqueConstraint(
            "session_id",
            "person_id",
            "stage",
            name="uq_meeting_outcomes_session_id_person_id_stage",
        ),
    )
    op.create_index("ix_meeting_outcomes_event_id", "meeting_outcomes", ["event_id"])
    op.create_table(
        "outcome_checks",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_outcome_checks_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name="pk_outcome_checks"),
    )


def downgrade() -> None:
    op.drop_table("outcome_checks")
    op.drop_index("ix_meeting_outcomes_event_id", table_name="meeting_outcomes")
    op.drop_table("meeting_outcomes")
