"""Database URLs and the SQLAlchemy engine Vigil opens on them.

A plain path means a SQLite file; ``postgresql://`` means psycopg 3. SQLite gets WAL (readers
never wait for the writer) and real transactions whose writers begin IMMEDIATE; a server gets
its pooled connections checked before use.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

__all__ = [
    "SUPPORTED_BACKENDS",
    "WRITE_OPTION",
    "check_database_url",
    "database_url",
    "open_engine",
    "one_line_error",
    "redact_password",
]

#: SQLAlchemy backends the schema and the queries are tested on.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
#: Execution option marking a connection that writes (SQLite: ``BEGIN IMMEDIATE``).
WRITE_OPTION = "vigil_write"
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


def database_url(url: str | os.PathLike[str] | URL) -> URL:
    """A SQLAlchemy URL for `url`: a URL as given, a plain path (or ``:memory:``) -> SQLite.

    ``postgresql://`` without a driver means psycopg 3 (the `postgres` extra), not
    SQLAlchemy's default psycopg2, which Vigil does not install.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = os.fspath(url)
        if "://" not in text:
            if text in ("", ":memory:"):
                return URL.create("sqlite")
            return URL.create("sqlite", database=str(Path(text).expanduser()))
        parsed = make_url(text)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def check_database_url(url: str | os.PathLike[str] | URL) -> URL:
    """`database_url(url)` for a database Vigil supports (SQLite, PostgreSQL) whose driver
    is installed; ValueError with one line (never the password) otherwise."""
    try:
        parsed = database_url(url)
    except (ArgumentError, ValueError) as err:
        raise ValueError(f"not a database URL: {one_line_error(err)}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"unsupported database {backend!r}: use sqlite:///FILE or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError:
        driver = parsed.get_driver_name()
        hint = " (pip install 'vigil[postgres]')" if driver == "psycopg" else ""
        raise ValueError(f"{backend} driver {driver!r} is not installed{hint}") from None
    return parsed


def redact_password(url: str | os.PathLike[str] | URL) -> str:
    """`url` as text with its password (if any) shown as ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD_IN_URL.sub(r"\1***@", os.fspath(url))


def one_line_error(err: BaseException) -> str:
    """The error as one line: the driver's message without SQLAlchemy's background link."""
    if isinstance(err, DBAPIError) and err.orig is not None:
        text = str(err.orig)
    else:
        text = str(err).split("\n(Background on this error", 1)[0]
    return " ".join(text.split()) or type(err).__name__


def open_engine(url: URL) -> Engine:
    """The engine for `url` (made with `database_url`): SQLite with WAL on a file, one shared
    connection for an in-memory database; a server with pre-pinged pooled connections."""
    kwargs: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    memory = sqlite and _is_sqlite_memory(url)
    if memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif sqlite:
        kwargs["connect_args"] = {"timeout": 30}
        db = url.database or ""
        if not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if not sqlite:
        # A server closes connections (restart, failover, idle timeout): check a pooled
        # connection before use rather than fail the next write with it.
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if sqlite:
        _sqlite_engine_setup(engine, wal=not memory)
    return engine


def _is_sqlite_memory(url: URL) -> bool:
    db = url.database
    return db in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _enable_wal(dbapi_connection: Any, patience: float = 30.0) -> None:
    """Switch the database file to WAL (persistent, so usually already on).

    Changing the journal mode fails at once with "database is locked" (no busy wait)
    while another connection is mid-transaction, e.g. a second process creating the schema
    of the same new file, so retry for a while.
    """
    deadline = time.monotonic() + patience
    cursor = dbapi_connection.cursor()
    try:
        while True:
            try:
                mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_engine_setup(engine: Engine, wal: bool) -> None:
    """WAL journal, and real transactions: pysqlite's own transaction handling neither
    covers DDL nor lets us `BEGIN IMMEDIATE`, so SQLAlchemy emits BEGIN itself (the
    recipe from the SQLAlchemy SQLite dialect docs). Writers begin IMMEDIATE so that
    concurrent writers queue on the busy timeout instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            _enable_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
