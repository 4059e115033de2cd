"""Whether a migrated database matches the ORM models, table by table."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from vigil.events.store import Base


def _modelled(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only tables with a model imported here: other packages' tables (the auth tables, when
    `vigil.auth.models` is not imported) are checked by their own tests."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in Base.metadata.tables


def orm_schema_differences(connection: Connection) -> list[Any]:
    """Alembic's autogenerate diff between the database and the imported models
    (types included); [] when the migrations and the models agree."""
    ctx = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _modelled}
    )
    return list(compare_metadata(ctx, Base.metadata))
