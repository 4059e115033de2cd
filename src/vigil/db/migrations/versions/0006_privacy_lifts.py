"""Privacy: the ``unmask`` permission per user and camera (`users.unmask`) and the lifted
masks (`privacy_lifts`: who, which camera, why, how long, who approved and who ended it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("unmask", _JSON, nullable=True))
    op.create_table(
        "privacy_lifts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("minutes", sa.Double(), nullable=False),
        sa.Column("requested_at", sa.Double(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("starts_at", sa.Double(), nullable=True),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_lifts"),
    )
    op.create_index("ix_privacy_lifts_camera_username", "privacy_lifts", ["camera", "username"])
    op.create_index("ix_privacy_lifts_requested_at", "privacy_lifts", ["requested_at"])


def downgrade() -> None:
    op.drop_table("privacy_lifts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("unmask")
