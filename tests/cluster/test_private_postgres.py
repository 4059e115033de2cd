"""`vigil.cluster.postgres.PrivatePostgres`: a real PostgreSQL whose data survives a restart,
whose stop leaves no process behind, and whose every failure to start is one line."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text

from vigil.cluster import postgres
from vigil.cluster.postgres import PostgresUnavailable, PrivatePostgres
from vigil.errors import VigilError

needs_postgres = pytest.mark.skipif(
    postgres.find_postgres_bin() is None, reason="Debian package `postgresql` not installed"
)


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not under pytest's tmp dirs: those are private to root, and the server runs as postgres.
    path = Path(tempfile.mkdtemp(prefix="vigil-pg-test-"))
    path.chmod(0o755)
    yield path / "pg"
    shutil.rmtree(path, ignore_errors=True)


def server_processes(server: PrivatePostgres) -> list[psutil.Process]:
    assert server.process is not None
    postmaster = psutil.Process(server.process.pid)
    return [postmaster, *postmaster.children(recursive=True)]


def scalar(url: str, *statements: str) -> object:
    """Run `statements` in one transaction; the first column of the last one's first row."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(statement)) for statement in statements]
            return results[-1].scalar()
    finally:
        engine.dispose()


@needs_postgres
def test_data_survives_restart_and_stop_leaves_no_process(folder: Path) -> None:
    server = PrivatePostgres(folder)
    url = server.start()
    assert url.startswith("postgresql+psycopg://postgres:") and url.endswith("/vigil")
    assert "@127.0.0.1:" in url
    scalar(url, "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (42)", "SELECT 1")
    processes = server_processes(server)
    assert len(processes) >= 3  # postmaster, checkpointer, writer...
    server.stop()
    assert not [p for p in processes if p.is_running()]

    again = PrivatePostgres(folder)
    url_again = again.start()
    try:
        assert scalar(url_again, "SELECT n FROM kept") == 42
        # Only 127.0.0.1, and a password is required.
        assert again.process is not None
        pid = again.process.pid
        listening = {c.laddr.ip for c in psutil.net_connections("tcp") if c.pid == pid}
        assert listening == {"127.0.0.1"}
        with pytest.raises(Exception, match="password authentication failed"):
            scalar(url_again.replace(again.password(), "wrong"), "SELECT 1")
    finally:
        processes = server_processes(again)
        again.stop()
    assert not [p for p in processes if p.is_running()]


@needs_postgres
def test_second_server_on_the_same_folder_is_one_line(folder: Path) -> None:
    server = PrivatePostgres(folder)
    server.start()
    try:
        with pytest.raises(VigilError) as info:
            PrivatePostgres(folder).start()
        assert "\n" not in str(info.value) and "postmaster.pid" in str(info.value)
    finally:
        server.stop()


def test_missing_binaries_name_the_debian_package(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "POSTGRES_ROOT", tmp_path / "no-postgresql")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresUnavailable) as info:
        PrivatePostgres(folder).start()
    message = str(info.value)
    assert "\n" not in message and "Debian package `postgresql`" in message


@needs_postgres
def test_missing_psycopg_names_the_extra(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    with pytest.raises(
        PostgresUnavailable, match=r"^psycopg is not installed: pip install 'vigil\[cluster\]'$"
    ):
        PrivatePostgres(folder).start()


@needs_postgres
def test_folder_the_server_user_cannot_reach_is_one_line(folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands the folder to the postgres user")
    folder.parent.chmod(0o700)
    with pytest.raises(
        VigilError, match=r"pg: the 'postgres' user PostgreSQL runs as cannot write there"
    ):
        PrivatePostgres(folder).start()


@needs_postgres
def test_folder_with_other_data_is_one_line(folder: Path) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "notes.txt").write_text("not a database")
    with pytest.raises(VigilError, match=r"data: not empty and not a PostgreSQL data directory$"):
        PrivatePostgres(folder).start()
    assert (folder / "data" / "notes.txt").read_text() == "not a database"  # nothing lost
