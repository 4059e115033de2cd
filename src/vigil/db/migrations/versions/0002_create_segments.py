"""Create the segments table (the recording index, `vigil.db.schema.SegmentRow`).

Revision ID: 0002
Revises: 0001
Create Date: 2024-01-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("motion", sa.Boolean(), nullable=False),
        sa.Column("objects", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
    )
    op.create_index("ix_segments_camera_start_time", "segments", ["camera", "start_time"])
    op.create_index("ix_segments_start_time", "segments", ["start_time"])
    op.create_index("ix_segments_path", "segments", ["path"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_segments_path", table_name="segments")
    op.drop_index("ix_segments_start_time", table_name="segments")
    op.drop_index("ix_segments_camera_start_time", table_name="segments")
    op.drop_table("segments")
