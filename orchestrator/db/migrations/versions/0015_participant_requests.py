"""participants' requests: when they are open, offer profiles, buyers' needs, the requests

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_schedules") as batch_op:
        batch_op.add_column(sa.Column("requests_open", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("requests_close", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("max_requests_per_person", sa.Integer(), nullable=True))
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("themes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("website", sa.String(length=2000), nullable=True))
    op.create_table(
        "needs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=80), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_needs_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_needs_organisation_id_organisations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name="fk_needs_author_id_people", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_needs"),
        sa.UniqueConstraint("event_id", "key", name="uq_needs_event_id_key"),
    )
    op.create_index("ix_needs_event_id", "needs", ["event_id"])
    op.create_table(
        "participant_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("from_person_id", sa.Integer(), nullable=False),
        sa.Column("to_organisation_id", sa.Integer(), nullable=False),
        sa.Column("to_person_id", sa.Integer(), nullable=True),
        sa.Column("need_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_source", sa.String(length=16), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_participant_requests_event_id_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_person_id"],
            ["people.id"],
            name="fk_participant_requests_from_person_id_people",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_organisation_id"],
            ["organisations.id"],
            name="fk_participant_requests_to_organisation_id_organisations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_person_id"],
            ["people.id"],
            name="fk_participant_requests_to_person_id_people",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["need_id"],
            ["needs.id"],
            name="fk_participant_requests_need_id_needs",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_participant_requests"),
    )
    op.create_index(
        "ix_participant_requests_event_id", "participant_requests", ["event_id", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_participant_requests_event_id", table_name="participant_requests")
    op.drop_table("participant_requests")
    op.drop_index("ix_needs_event_id", table_name="needs")
    op.drop_table("needs")
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("website")
        batch_op.drop_column("themes")
        batch_op.drop_column("description")
    with op.batch_alter_table("meeting_schedules") as batch_op:
        batch_op.drop_column("max_requests_per_person")
        batch_op.drop_column("requests_close")
        batch_op.drop_column("requests_open")
