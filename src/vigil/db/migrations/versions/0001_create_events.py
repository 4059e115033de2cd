"""Create the events table.

Revision ID: 0001
Revises:
Create Date: 2024-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("app", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=True),
        sa.Column("frame_index", sa.BigInteger(), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("class_name", sa.String(length=128), nullable=True),
        sa.Column("zone", sa.String(length=255), nullable=True),
        sa.Column("line", sa.String(length=255), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_source_start_time", "events", ["source", "start_time"])
    op.create_index("ix_events_type", "events", ["type"])
    op.create_index("ix_events_app", "events", ["app"])


def downgrade() -> None:
    op.drop_index("ix_events_app", table_name="events")
    op.drop_index("ix_events_type", table_name="events")
    op.drop_index("ix_events_source_start_time", table_name="events")
    op.drop_table("events")
