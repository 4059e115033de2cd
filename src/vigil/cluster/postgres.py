"""A private PostgreSQL server for a Vigil site, from Debian's ``postgresql`` binaries.

`PrivatePostgres(folder)` keeps one database cluster in ``folder/data`` across runs: the first
`start()` runs ``initdb`` (a random superuser password, kept in ``folder/password``, mode 0600;
SCRAM authentication), later ones reuse the data. The server listens on 127.0.0.1 only, on a
free port, without a Unix socket. PostgreSQL refuses to run as root, so under root the folder
belongs to the ``postgres`` system user and the server runs as that user. `stop()` is a "fast"
shutdown (clients cut off, data flushed) and returns once no process of the server is left.

``durable=False`` turns off fsync and full-page writes: for throw-away test servers only.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from vigil.errors import VigilError, one_line

#: Where Debian installs the server binaries (one directory per major version).
POSTGRES_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
DATABASE = "vigil"
HOST = "127.0.0.1"
_BIND_ATTEMPTS = 3  # a free port can be taken by someone else before postgres binds it


class PostgresUnavailable(VigilError):
    """PostgreSQL cannot run here: its binaries, psycopg or the ``postgres`` user is missing."""


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and postgres, else the
    directory of an ``initdb`` on PATH, else None."""
    candidates = []
    for directory in POSTGRES_ROOT.glob("*/bin"):
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            major = directory.parent.name
            if major.isdigit():
                candidates.append((int(major), directory))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port(host: str = HOST) -> int:
    """A TCP port free on `host` now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class PrivatePostgres:
    """One PostgreSQL server on 127.0.0.1 whose data lives in `folder` (kept across runs)."""

    def __init__(self, folder: Path, *, durable: bool = True) -> None:
        self.folder = Path(folder).absolute()
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.durable = durable
        self.host = HOST
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._as_user: dict[str, Any] = {}

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of `database` on the running server."""
        return (
            f"postgresql+psycopg://{SUPERUSER}:{self.password()}@{self.host}:{self.port}/{database}"
        )

    def dsn(self, database: str = DATABASE) -> str:
        """The libpq connection string of `database` (for psycopg directly)."""
        return (
            f"host={self.host} port={self.port} user={SUPERUSER} "
            f"password={self.password()} dbname={database}"
        )

    def start(self, timeout: float = 30.0) -> str:
        """Start the server (``initdb`` first if `folder` holds no cluster yet); returns the
        URL of the database ``vigil`` (created on the first start)."""
        if self.process is not None and self.process.poll() is None:
            return self.url()
        bin_dir = find_postgres_bin()
        if bin_dir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries not found (initdb, postgres): "
                "install the Debian package `postgresql`"
            )
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise PostgresUnavailable(
                "psycopg is not installed: pip install 'vigil[cluster]'"
            ) from None
        self._prepare_folder()
        env = dict(os.environ, LC_ALL="C.UTF-8", HOME=str(self.folder))
        if not (self.data / "PG_VERSION").is_file():
            self._initdb(bin_dir, env)
        for attempt in range(_BIND_ATTEMPTS):
            self.port = free_port()
            if self._run(bin_dir, env, timeout, last=attempt == _BIND_ATTEMPTS - 1):
                break
        self._create_database(DATABASE)
        return self.url()

    def create_database(self, name: str) -> str:
        """A new empty database `name` on the running server; returns its URL."""
        self._create_database(name, must_be_new=True)
        return self.url(name)

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown; returns when no process of this server is left."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
        except psutil.NoSuchProcess:
            tree = []
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # "fast" shutdown: clients cut off, data flushed
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _gone, alive = psutil.wait_procs(tree, timeout=timeout)
        for child in alive:  # only after a SIGKILL of the postmaster: its children
            child.kill()
        psutil.wait_procs(alive, timeout=timeout)

    def _prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root and there is no {SUPERUSER!r} user to run PostgreSQL as "
                "(the Debian package `postgresql` creates it)"
            ) from None
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        if subprocess.run(["test", "-w", str(self.folder)], **self._as_user).returncode != 0:
            raise VigilError(
                f"{self.folder}: the {SUPERUSER!r} user PostgreSQL runs as cannot write there "
                "(a parent directory is private to root?)"
            )

    def password(self) -> str:
        """The superuser's password (made by the first start)."""
        return (self.folder / "password").read_text().strip()

    def _initdb(self, bin_dir: Path, env: dict[str, str]) -> None:
        if self.data.exists() and any(self.data.iterdir()):
            raise VigilError(f"{self.data}: not empty and not a PostgreSQL data directory")
        password = self.folder / "password"
        password.write_text(secrets.token_urlsafe(24) + "\n")
        password.chmod(0o600)
        if self._as_user:
            os.chown(password, self._as_user["user"], self._as_user["group"])
        done = subprocess.run(
            [str(bin_dir / "initdb"), "--pgdata", str(self.data), "--username", SUPERUSER,
             "--auth", "scram-sha-256", "--pwfile", str(password), "--encoding", "UTF8",
             *([] if self.durable else ["--no-sync"])],
            capture_output=True, env=env, cwd=self.folder, **self._as_user,
        )  # fmt: skip
        if done.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise VigilError(
                f"{self.data}: initdb failed: {one_line(reason[-1] if reason else '')}"
            )

    def _run(self, bin_dir: Path, env: dict[str, str], timeout: float, last: bool) -> bool:
        """Start postgres on `self.port`; False when another process took that port first."""
        settings = [f"listen_addresses={self.host}", "unix_socket_directories="]
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        start_of_log = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 *(arg for setting in settings for arg in ("-c", setting))],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=self.folder, start_new_session=True, **self._as_user,
            )  # fmt: skip
        import psycopg

        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise VigilError(
                        f"PostgreSQL not ready after {timeout:g} s: see {self.log}"
                    ) from None
                time.sleep(0.05)
        self.process = None
        with self.log.open("rb") as log:
            log.seek(start_of_log)
            lines = log.read().decode(errors="replace").strip().splitlines()
        if not last and any("could not bind" in line for line in lines):
            return False
        failure = next((line for line in lines if "FATAL" in line), lines[-1] if lines else "")
        raise VigilError(f"PostgreSQL in {self.data} did not start: {one_line(failure)}")

    def _create_database(self, name: str, must_be_new: bool = False) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists and must_be_new:
                raise VigilError(f"database {name!r} already exists on {self.host}:{self.port}")
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
