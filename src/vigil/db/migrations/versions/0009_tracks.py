"""Forensic search: ``tracks``, one summary row per finished track (path, zones, lines,
dwell, speed) with its path's bounding box as the spatial prefilter.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=False),
        sa.Column("class_name", sa.String(length=128), nullable=False),
        sa.Column("first_time", sa.Double(), nullable=False),
        sa.Column("last_time", sa.Double(), nullable=False),
        sa.Column("min_x", sa.Double(), nullable=False),
        sa.Column("min_y", sa.Double(), nullable=False),
        sa.Column("max_x", sa.Double(), nullable=False),
        sa.Column("max_y", sa.Double(), nullable=False),
        sa.Column("path", sa.LargeBinary(), nullable=False),
        sa.Column("zones", _JSON, nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("dwell", sa.Double(), nullable=False),
        sa.Column("speed_kmh", sa.Double(), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tracks"),
    )
    op.create_index("ix_tracks_source_first_time", "tracks", ["source", "first_time"])
    op.create_index("ix_tracks_first_time", "tracks", ["first_time"])


def downgrade() -> None:
    op.drop_table("tracks")
