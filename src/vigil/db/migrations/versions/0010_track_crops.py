"""Forensic search: each track summary keeps a small crop of its object (``tracks.crop``,
a JPEG) and where it was cut (``tracks.crop_box``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("crop", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("crop_box", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("crop_box")
        batch.drop_column("crop")
