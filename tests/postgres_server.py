"""A real PostgreSQL server for the tests (pytest plugin, registered in tests/conftest.py).

`postgres_server` (session scope) runs Debian's PostgreSQL (package ``postgresql``) from a
throw-away cluster: ``initdb`` into a temporary directory, ``postgres`` listening on 127.0.0.1
only (no Unix socket), trust authentication, durability off (a test cluster needs speed, not
crash safety). PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` system user and its processes run as that user.

`postgres_url` (function scope) creates a fresh, empty database on that server for one test
and returns its SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/NAME``), so
tests never see each other's tables. Tests using them are skipped, with the reason, where
PostgreSQL or psycopg is not installed.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Where Debian installs the server binaries (one directory per major version).
POSTGRES_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and postgres."""
    candidates = []
    for directory in POSTGRES_ROOT.glob("*/bin"):
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            with_major = directory.parent.name
            if with_major.isdigit():
                candidates.append((int(with_major), directory))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None."""
    if find_postgres_bin() is None:
        return "PostgreSQL is not installed (Debian package `postgresql`)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'vigil[postgres]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return f"running as root and there is no {SUPERUSER!r} user to run PostgreSQL as"
    return None


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1; `stop()` removes it."""

    def __init__(self, bin_dir: Path, host: str = "127.0.0.1"):
        self.bin_dir = bin_dir
        self.host = host
        self.port = _free_port(host)
        # Not under pytest's tmp dirs: those are private to root, and the server runs as
        # the postgres user.
        self.directory = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        env = dict(os.environ, LC_ALL="C.UTF-8", HOME=str(self.directory))
        subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],  # fmt: skip
            check=True,
            capture_output=True,
            env=env,
            cwd=self.directory,
            **self._as_user,
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    f"listen_addresses={self.host}",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],  # fmt: skip
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
                **self._as_user,
            )
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log.read_text(errors='replace')}")
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres not ready after {timeout} s") from None
                time.sleep(0.1)

    def _dsn(self, database: str) -> str:
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{next(self._names)}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: clients cut off
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL on 127.0.0.1 for the whole session (`.url(db)`,
    `.create_database()`); skips the test where PostgreSQL or psycopg is missing."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    bin_dir = find_postgres_bin()
    assert bin_dir is not None
    server = PostgresServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of a fresh, empty database (one per test)."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database on each backend Vigil supports: a test taking it
    runs twice, on a SQLite file and on PostgreSQL (skipped there where it is missing)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vigil.db'}"
    return str(request.getfixturevalue("postgres_url"))
