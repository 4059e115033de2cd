"""Review: the review items (a camera's overlapping events, `vigil.events.review`), which item
each event belongs to, and per-user reviewed marks. The items of events stored before are
made by `EventStore.rebuild_review`, which ``vigil serve`` runs when it finds none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("apps", _JSON, nullable=False),
        sa.Column("types", _JSON, nullable=False),
        sa.Column("classes", _JSON, nullable=False),
        sa.Column("zones", _JSON, nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("thumbnail", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
    )
    op.create_index("ix_review_items_start_time", "review_items", ["start_time"])
    op.create_index("ix_review_items_source_start_time", "review_items", ["source", "start_time"])
    op.create_index(
        "ix_review_items_severity_start_time", "review_items", ["severity", "start_time"]
    )
    op.create_table(
        "review_item_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_review_item_events"),
    )
    op.create_index("ix_review_item_events_item_id", "review_item_events", ["item_id"])
    op.create_table(
        "review_marks",
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "username", name="pk_review_marks"),
    )
    op.create_index("ix_review_marks_username", "review_marks", ["username"])


def downgrade() -> None:
    op.drop_table("review_marks")
    op.drop_table("review_item_events")
    op.drop_table("review_items")
