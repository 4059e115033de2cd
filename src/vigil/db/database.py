"""`Database`: Vigil's one SQL database, opened from a URL, migrated, in short sessions.

The schema is owned by the Alembic migrations in ``vigil/db/migrations``, which `Database`
runs (``upgrade head``) when it opens a database that is not at `HEAD_REVISION`, so a fresh
file gets the schema and an old one is brought up to date. A database already at head is
opened without importing Alembic (most of the start-up time of a short `vigil run`).

The stores (events, recording index, accounts) share one `Database` and do each unit of
work in a `read()` or a `write()` session; writers on SQLite begin IMMEDIATE, so they queue
on the busy timeout rather than deadlock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, delete, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil.db.engine import (
    WRITE_OPTION,
    check_database_url,
    database_url,
    one_line_error,
    open_engine,
    redact_password,
)
from vigil.errors import VigilError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "IN_CHUNK",
    "MIGRATIONS_DIR",
    "Database",
    "DatabaseError",
    "alembic_config",
    "delete_in_batches",
    "in_chunks",
    "upsert",
]

T = TypeVar("T")
IN_CHUNK = 500  # values per `IN (...)`: well under SQLite's bound-parameter limit

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: The newest migration's revision id (a test checks it against the migration scripts).
HEAD_REVISION = "0011"
#: PostgreSQL advisory lock held while migrating (any constant; "vigil" in ASCII).
_MIGRATION_LOCK_KEY = 0x766967696C
_log = logging.getLogger(__name__)


class DatabaseError(VigilError):
    """The database cannot be opened or migrated, or is used after `close()`."""


def alembic_config(url: str | os.PathLike[str] | URL | None = None) -> Config:
    """An Alembic `Config` for Vigil's migrations, built in code (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        rendered = database_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


class Database:
    """An open database at the newest schema revision.

    `url` is a SQLAlchemy URL (``sqlite:///vigil.db``, ``postgresql+psycopg://u:p@h/db``)
    or a plain file path (SQLite). Raises `DatabaseError` (one line, never the password)
    when the database cannot be opened or migrated. Close it (or use it as a context
    manager) when done; the stores using it do not close it.
    """

    def __init__(self, url: str | os.PathLike[str] | URL = "sqlite:///vigil.db") -> None:
        try:
            self.url = database_url(url)
        except (ArgumentError, ValueError) as err:
            shown = redact_password(url)
            raise DatabaseError(f"database {shown!r}: bad URL: {one_line_error(err)}") from None
        if self.url.get_backend_name() == "postgresql":
            try:
                check_database_url(self.url)  # a missing psycopg says how to get it
            except ValueError as err:
                raise DatabaseError(f"database {self}: {err}") from None
        self._closed = False
        try:
            self.engine: Engine = open_engine(self.url)
        except (SQLAlchemyError, ImportError, OSError) as err:
            raise DatabaseError(f"database {self}: {one_line_error(err)}") from err
        self._reader = sessionmaker(self.engine)
        self._writer = sessionmaker(self.engine.execution_options(**{WRITE_OPTION: True}))
        try:
            self._migrate()
        except (SQLAlchemyError, ImportError, OSError, DatabaseError) as err:
            self.engine.dispose()
            raise DatabaseError(f"database {self}: {one_line_error(err)}") from err

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (queries differ where their SQL does)."""
        return self.url.get_backend_name()

    def __str__(self) -> str:
        return redact_password(self.url)

    def __repr__(self) -> str:
        return f"Database({str(self)!r})"

    # ---------------------------------------------------------------- sessions

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (its transaction is rolled back at the end)."""
        self._check_open()
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed at the end (rolled back when the
        block raises)."""
        self._check_open()
        with self._writer.begin() as session:
            yield session

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseError(f"database {self}: closed")

    # ---------------------------------------------------------------- migrations

    def _at_head(self) -> bool:
        """Whether the database's recorded revision is `HEAD_REVISION` (read, no lock)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return stored.all() == [HEAD_REVISION]

    def _migrate(self) -> None:
        if self._at_head():
            return
        # Alembic narrates each plugin it sets up (on import) and each migration (docstrings
        # included) at INFO: one line of ours says what happened instead.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from alembic import command
        from alembic.util import CommandError

        with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several processes may open a new database at once (the service, a CLI
                # command): without a lock they race to create the same tables. SQLite's
                # BEGIN IMMEDIATE serialises them; here a transaction-scoped advisory lock
                # does (released at commit), and PostgreSQL's DDL is transactional, so the
                # next migrator finds the schema done.
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as err:  # e.g. a revision unknown here
                raise DatabaseError(f"{err} (written by a newer Vigil?)") from None
        _log.info("database schema brought up to revision %s", HEAD_REVISION)


def delete_in_batches(database: Database, key: Any, where: Any, batch: int = 5000) -> int:
    """Delete the rows matching `where` (of the table whose primary key column is `key`),
    `batch` rows per transaction, so that writers wait for one short delete, never for a
    whole backlog; returns how many."""
    deleted = 0
    while True:
        keys = select(key).where(where).limit(batch).scalar_subquery()
        with database.write() as session:
            result = session.execute(delete(key.table).where(key.in_(keys)))
            count = int(getattr(result, "rowcount", 0) or 0)
        deleted += count
        if count < batch:
            return deleted


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`, one `IN (...)` query each."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def upsert(session: Session, model: Any) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into `model`'s table in the session's SQL dialect, which has
    ``on_conflict_do_update`` (PostgreSQL and SQLite alike: one atomic statement)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
