"""Cluster and shared-state tables: camera leases (epochs as fencing tokens), the node that
wrote each event and holds each segment, the apps' saved state, and login rate limits kept
in the database (so every API replica enforces the same ones).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("node", sa.String(length=255), nullable=True))
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("node", sa.String(length=255), nullable=True))
    op.create_index("ix_segments_node_start_time", "segments", ["node", "start_time"])
    op.create_table(
        "camera_leases",
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera", name="pk_camera_leases"),
    )
    op.create_index("ix_camera_leases_node", "camera_leases", ["node"])
    op.create_table(
        "app_states",
        sa.Column("camera", sa.String(length=255), nullable=False),
        sa.Column("app", sa.String(length=255), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera", "app", name="pk_app_states"),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    op.create_index(
        "ix_login_failures_scope_username_address_time",
        "login_failures",
        ["scope", "username", "address", "time"],
    )
    op.create_index("ix_login_failures_time", "login_failures", ["time"])
    op.create_table(
        "login_addresses",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name="pk_login_addresses"),
    )


def downgrade() -> None:
    op.drop_table("login_addresses")
    op.drop_table("login_failures")
    op.drop_table("app_states")
    op.drop_table("camera_leases")
    op.drop_index("ix_segments_node_start_time", table_name="segments")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("node")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("node")
