"""The analytics screen: its read-only display tokens (``display_tokens``: name, hash,
cameras), and ``tracks`` indexed by camera and end time (the screen reads the summaries of
tracks that ended since its last call).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "display_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("cameras", _JSON, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_used", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_display_tokens"),
    )
    op.create_index("ix_display_tokens_name", "display_tokens", ["name"], unique=True)
    op.create_index("ix_display_tokens_token_hash", "display_tokens", ["token_hash"], unique=True)
    op.create_index("ix_tracks_source_last_time", "tracks", ["source", "last_time"])


def downgrade() -> None:
    op.drop_index("ix_tracks_source_last_time", table_name="tracks")
    op.drop_table("display_tokens")
