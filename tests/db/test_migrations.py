"""Alembic migrations of Vigil's database, run programmatically by `Database`."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from schema_check import orm_schema_differences
from sqlalchemy import create_engine, inspect

from vigil.db.database import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    Database,
    DatabaseError,
    alembic_config,
)
from vigil.db.engine import database_url
from vigil.events import Event
from vigil.events.store import EventStore


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_fresh_sqlite_file_gets_schema(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    Database(f"sqlite:///{db}").close()
    engine = create_engine(f"sqlite:///{db}")
    try:
        insp = inspect(engine)
        assert {"events", "segments", "alembic_version"} <= set(insp.get_table_names())
        columns = {c["name"]: c for c in insp.get_columns("events")}
        assert set(columns) == {
            "id", "source", "app", "type", "state", "start_time", "end_time", "frame_index",
            "track_id", "class_id", "class_name", "zone", "line", "attributes", "created_at",
            "node",
        }  # fmt: skip
        assert columns["end_time"]["nullable"] and not columns["start_time"]["nullable"]
        assert insp.get_pk_constraint("events")["constrained_columns"] == ["id"]
        indexes = {i["name"]: i["column_names"] for i in insp.get_indexes("events")}
        assert indexes == {
            "ix_events_source_start_time": ["source", "start_time"],
            "ix_events_type_source_start_time": ["type", "source", "start_time"],
            "ix_events_start_time": ["start_time"],
            "ix_events_app": ["app"],
        }
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()


def test_orm_model_matches_migrations(tmp_path: Path) -> None:
    """The ORM table and the migration scripts describe the same schema."""
    db = tmp_path / "events.db"
    Database(db).close()
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    Database(db).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopen_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with Database(db) as database:
        store = EventStore(database)
        store.add([Event("cam1", "count", "line_crossing", 1.0, 10)])
    for _ in range(2):
        with Database(f"sqlite:///{db}") as database:
            store = EventStore(database)
            assert store.count() == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


def test_head_revision_is_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


OPEN_THEN_REPORT = """
import sys
from vigil.db.database import Database
Database(sys.argv[1]).close()
print("alembic" in sys.modules)
"""


def opened_with_alembic(db: Path) -> bool:
    """Open `db` in a new interpreter; whether that loaded Alembic (i.e. ran the migrations)."""
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_THEN_REPORT, str(db)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return {"True": True, "False": False}[proc.stdout.strip()]


def test_only_a_database_behind_head_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    assert opened_with_alembic(db)  # a new file gets the schema
    assert not opened_with_alembic(db)  # at head: opened as it is
    command.downgrade(alembic_config(f"sqlite:///{db}"), "0002")  # a database of an older Vigil
    with sqlite3.connect(db) as conn:
        assert "users" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert opened_with_alembic(db)
    with sqlite3.connect(db) as conn:
        assert "users" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    assert not opened_with_alembic(db)


def test_database_of_a_newer_vigil_is_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    Database(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(DatabaseError) as info:
        Database(db)
    assert "\n" not in str(info.value)
    assert "9999" in str(info.value) and "newer Vigil" in str(info.value)


def test_plain_path_and_missing_directories(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "events.db"
    with Database(str(db)) as database:
        assert database.url.get_backend_name() == "sqlite"
    assert db.exists()


def test_in_memory_database() -> None:
    with Database(":memory:") as database:
        store = EventStore(database)
        store.add([Event("cam1", "count", "line_crossing", 1.0, 10)])
        assert store.count() == 1
    with Database("sqlite://") as database:
        store = EventStore(database)
        assert store.count() == 0


def test_database_url() -> None:
    assert database_url("events.db").render_as_string() == "sqlite:///events.db"
    assert database_url("/var/lib/vigil/e.db").render_as_string() == "sqlite:////var/lib/vigil/e.db"
    url = database_url("postgresql+psycopg://u:pw@host:5432/vigil")
    assert url.get_backend_name() == "postgresql" and url.password == "pw"
    # No driver named: psycopg 3 (the `postgres` extra), not SQLAlchemy's psycopg2 default.
    assert database_url("postgresql://u@host/vigil").drivername == "postgresql+psycopg"


def test_unusable_database_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as info:
        Database("nosuchdialect://u:secret@host/db")
    message = str(info.value)
    assert "\n" not in message and "nosuchdialect://u:***@host/db" in message
    assert "secret" not in message

    with pytest.raises(DatabaseError) as info:
        Database("postgresql://u:secret@host:notaport/db")
    assert "secret" not in str(info.value) and "bad URL" in str(info.value)

    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(DatabaseError, match="file is not a database"):
        Database(not_a_db)


def test_downgrade_and_upgrade_by_hand(tmp_path: Path) -> None:
    """env.py also works without a connection handed over (alembic run by a developer)."""
    db = tmp_path / "events.db"
    Database(db).close()
    cfg = alembic_config(f"sqlite:///{db}")
    command.downgrade(cfg, "base")
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert "events" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "head")
        assert "events" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migrations_render_for_postgresql() -> None:
    """Offline SQL for PostgreSQL: the migrations use no SQLite-only constructs."""
    buffer = io.StringIO()
    cfg = alembic_config("postgresql://u:p@localhost/vigil")
    cfg.output_buffer = buffer
    command.upgrade(cfg, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE events" in sql
    assert "JSONB" in sql and "DOUBLE PRECISION" in sql and "TIMESTAMP WITH TIME ZONE" in sql
    assert "CREATE INDEX ix_events_source_start_time ON events (source, start_time)" in sql
    assert "CREATE TABLE segments" in sql and "BOOLEAN" in sql
    assert "CREATE INDEX ix_segments_camera_start_time ON segments (camera, start_time)" in sql
    assert "CREATE UNIQUE INDEX ix_segments_path ON segments (path)" in sql


def test_migration_0002_creates_the_segments_table(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    Database(db).close()  # opening runs every migration, 0002 included
    assert (MIGRATIONS_DIR / "versions" / "0002_create_segments.py").is_file()
    revisions = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    assert "0002" in {r.revision for r in revisions}  # on the way to head
    engine = create_engine(f"sqlite:///{db}")
    try:
        insp = inspect(engine)
        assert {"events", "segments"} <= set(insp.get_table_names())
        columns = {c["name"]: c for c in insp.get_columns("segments")}
        assert set(columns) == {
            "id", "camera", "path", "start_time", "end_time", "size_bytes", "motion",
            "objects", "created_at", "node",
        }  # fmt: skip
        assert [name for name, c in columns.items() if c["nullable"]] == ["node"]  # 0005
        indexes = {
            i["name"]: (i["column_names"], bool(i["unique"])) for i in insp.get_indexes("segments")
        }
        assert indexes == {
            "ix_segments_camera_start_time": (["camera", "start_time"], False),
            "ix_segments_start_time": (["start_time"], False),
            "ix_segments_path": (["path"], True),
            "ix_segments_node_start_time": (["node", "start_time"], False),  # 0005
        }
    finally:
        engine.dispose()


def test_downgrade_to_0001_drops_only_segments(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    Database(db).close()
    cfg = alembic_config(f"sqlite:///{db}")
    command.downgrade(cfg, "0001")
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert set(inspect(engine).get_table_names()) == {"events", "alembic_version"}
        command.upgrade(cfg, "head")
        assert "segments" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migration_files_are_present() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_create_events.py").is_file()


def test_query_indexes_migrate_down_and_up_keeping_the_events(database: str) -> None:
    """0004 (indexes for counts and retention) on SQLite and PostgreSQL: down to 0003 and up
    again, with events in the table."""
    with Database(database) as opened:
        store = EventStore(opened)
        store.add([Event("cam1", "a", "occupancy", 100.0 + k, k) for k in range(10)])
    cfg = alembic_config(database)
    engine = create_engine(database_url(database))
    try:

        def indexes() -> set[str]:
            return {i["name"] for i in inspect(engine).get_indexes("events")}

        assert {"ix_events_type_source_start_time", "ix_events_start_time"} <= indexes()
        assert "ix_events_type" not in indexes()
        command.downgrade(cfg, "0003")
        assert "ix_events_type" in indexes()
        assert not {"ix_events_type_source_start_time", "ix_events_start_time"} & indexes()
        command.upgrade(cfg, "head")
        assert {"ix_events_type_source_start_time", "ix_events_start_time"} <= indexes()
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
        with Database(database) as opened:
            store = EventStore(opened)
            assert store.count() == 10
    finally:
        engine.dispose()


def test_a_new_database_is_announced_in_one_line(tmp_path, caplog):
    """Alembic sets up plugins on import and narrates each migration at INFO; a first start
    logs one line of ours instead."""
    import logging

    from vigil.db.database import Database

    caplog.set_level(logging.INFO)
    Database(f"sqlite:///{tmp_path / 'new.db'}").close()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == [f"database schema brought up to revision {HEAD_REVISION}"], lines


def test_cluster_tables_migrate_down_and_up_keeping_the_events(database: str) -> None:
    """0005 (leases, nodes, app state, login limits) on SQLite and PostgreSQL: down to 0004
    and up again, with events and segments in their tables."""
    from vigil.recording.index import SegmentIndex
    from vigil.recording.segments import SegmentInfo

    with Database(database) as opened:
        EventStore(opened).add([Event("cam1", "a", "occupancy", 100.0 + k, k) for k in range(3)])
        SegmentIndex(opened).add(SegmentInfo("cam1", "/rec/cam1/a.mp4", 1.0, 2.0, 10))
    cfg = alembic_config(database)
    cluster_tables = {"camera_leases", "app_states", "login_failures", "login_addresses"}
    engine = create_engine(database_url(database))
    try:
        assert cluster_tables <= set(inspect(engine).get_table_names())
        command.downgrade(cfg, "0004")
        insp = inspect(engine)
        assert not cluster_tables & set(insp.get_table_names())
        assert "node" not in {c["name"] for c in insp.get_columns("segments")}
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()
    with Database(database) as opened:
        assert EventStore(opened).count() == 3
        assert [s.path for s in SegmentIndex(opened).oldest()] == ["/rec/cam1/a.mp4"]


def test_privacy_lifts_migrate_down_and_up_keeping_the_users(database: str) -> None:
    """0006 (the unmask permission, privacy_lifts) on SQLite and PostgreSQL: down to 0005
    and up again, the users kept (their permission dropped with its column)."""
    from vigil.auth.lifts import LiftStore
    from vigil.auth.store import AuthStore

    with Database(database) as opened:
        auth = AuthStore(opened)
        auth.add_user("olga", "a long passphrase", "operator")
        user = auth.update_user("olga", unmask=["cam1", " cam1 ", "*"])
        assert user.unmask == frozenset({"cam1", "*"})
        LiftStore(opened).request("cam1", user.principal, "why", 5, max_minutes=15, four_eyes=False)
    cfg = alembic_config(database)
    engine = create_engine(database_url(database))
    try:
        assert "privacy_lifts" in inspect(engine).get_table_names()
        command.downgrade(cfg, "0005")
        insp = inspect(engine)
        assert "privacy_lifts" not in insp.get_table_names()
        assert "unmask" not in {c["name"] for c in insp.get_columns("users")}
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()
    with Database(database) as opened:
        user = AuthStore(opened).user("olga")
        assert user is not None and user.role == "operator" and user.unmask == frozenset()
        assert LiftStore(opened).lifts() == []


def test_token_names_migrate_down_and_up_keeping_the_tokens(database: str) -> None:
    """0007 (API token names) on SQLite and PostgreSQL: down to 0006 and up again, the
    tokens kept and still valid (their names dropped with the column)."""
    from vigil.auth.store import AuthStore

    with Database(database) as opened:
        auth = AuthStore(opened)
        auth.add_user("tom", "a long passphrase", "viewer")
        token = auth.create_token("tom", "nvr-export")
        assert [t.name for t in auth.tokens("tom")] == ["nvr-export"]
    cfg = alembic_config(database)
    engine = create_engine(database_url(database))
    try:
        command.downgrade(cfg, "0006")
        assert "name" not in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()
    with Database(database) as opened:
        auth = AuthStore(opened)
        assert auth.token(token) is not None
        assert [t.name for t in auth.tokens("tom")] == [None]
