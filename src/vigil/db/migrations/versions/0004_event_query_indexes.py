"""Indexes for counting and retention at scale: events by type, source and start time (the
counts' aggregates; it replaces the index on type alone, its prefix) and by start time (the
retention pass's spans and its batched deletes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_type_source_start_time", "events", ["type", "source", "start_time"])
    op.drop_index("ix_events_type", table_name="events")
    op.create_index("ix_events_start_time", "events", ["start_time"])


def downgrade() -> None:
    op.drop_index("ix_events_start_time", table_name="events")
    op.create_index("ix_events_type", "events", ["type"])
    op.drop_index("ix_events_type_source_start_time", table_name="events")
