"""Whether a migrated database matches the ORM models, table by table."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from vigil.db.schema import Base


def orm_schema_differences(connection: Connection) -> list[Any]:
    """Alembic's autogenerate diff between the database and the models of
    `vigil.db.schema` (types included); [] when the migrations and the models agree."""
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))
