"""A real PostgreSQL server for the tests (pytest plugin, registered in tests/conftest.py).

`postgres_server` (session scope) is a `vigil.cluster.postgres.PrivatePostgres` in a throw-away
folder with durability off (a test server needs speed, not crash safety): Debian's PostgreSQL
(package ``postgresql``) on 127.0.0.1 only, run as the ``postgres`` user under root.

`postgres_url` (function scope) creates a fresh, empty database on that server for one test
and returns its SQLAlchemy URL (``postgresql+psycopg://postgres:PASSWORD@127.0.0.1:PORT/NAME``),
so tests never see each other's tables. Tests using them are skipped, with the reason, where
PostgreSQL, psycopg or the ``postgres`` user is missing (`PostgresUnavailable`); any other
failure to start is an error.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.cluster.postgres import PostgresUnavailable, PrivatePostgres

_database_names = (f"test_{n}" for n in itertools.count(1))


class PostgresServer(PrivatePostgres):
    """A throw-away `PrivatePostgres`: a new temporary folder, durability off; `stop()`
    deletes the folder."""

    def __init__(self) -> None:
        # Not under pytest's tmp dirs: those are private to root, and the server runs as
        # the postgres user.
        super().__init__(Path(tempfile.mkdtemp(prefix="vigil-pg-")), durable=False)

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL on 127.0.0.1 for the whole session (`.url(db)`,
    `.create_database(name)`); skips the test where PostgreSQL or psycopg is missing."""
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as missing:
        server.stop()
        pytest.skip(str(missing))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of a fresh, empty database (one per test)."""
    return postgres_server.create_database(next(_database_names))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database on each backend Vigil supports: a test taking it
    runs twice, on a SQLite file and on PostgreSQL (skipped there where it is missing)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vigil.db'}"
    return str(request.getfixturevalue("postgres_url"))
