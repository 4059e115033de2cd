"""The events database on a real PostgreSQL server (tests/postgres_server.py): the Alembic
migrations, the schema they leave, and what differs from SQLite (concurrency, types, errors).

The store's and the segment index's behaviour on PostgreSQL is covered by their own tests,
which run on both backends (the `database` fixture).
"""

from __future__ import annotations

import threading
import time

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from schema_check import orm_schema_differences
from sqlalchemy import create_engine, inspect, text

from postgres_server import PostgresServer
from vigil.db.database import Database, DatabaseError, alembic_config
from vigil.events import Event, EventStore
from vigil.recording.index import SegmentIndex
from vigil.service.messages import SegmentInfo


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_fresh_database_gets_the_schema_of_every_migration(postgres_url: str) -> None:
    Database(postgres_url).close()
    engine = create_engine(postgres_url)
    try:
        insp = inspect(engine)
        assert {"events", "segments", "alembic_version"} <= set(insp.get_table_names())
        types = {c["name"]: str(c["type"]) for c in insp.get_columns("events")}
        assert types["attributes"] == "JSONB"
        assert types["start_time"] == "DOUBLE PRECISION"
        assert types["created_at"] == "TIMESTAMP"  # reflected without the zone flag...
        timestamp = next(c for c in insp.get_columns("events") if c["name"] == "created_at")
        assert timestamp["type"].timezone  # ...which is set
        assert {i["name"] for i in insp.get_indexes("segments")} >= {"ix_segments_path"}
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
            # Opening again migrates nothing and keeps the one version row.
            Database(postgres_url).close()
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_orm_model_matches_migrations(postgres_url: str) -> None:
    Database(postgres_url).close()
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_by_hand(postgres_url: str) -> None:
    Database(postgres_url).close()
    cfg = alembic_config(postgres_url)
    command.downgrade(cfg, "base")
    engine = create_engine(postgres_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        command.upgrade(cfg, "head")
        assert {"events", "segments"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_processes_opening_a_fresh_database_together(postgres_url: str) -> None:
    """Several stores (the service, a CLI command) opening the same new database at once:
    the migrations run once, nobody fails on a half-created schema."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(source: str) -> None:
        try:
            barrier.wait()
            with Database(postgres_url) as database:
                store = EventStore(database)
                for i in range(10):
                    store.add([Event(source, "count", "line_crossing", float(i), i)])
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=run, args=(f"cam{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Database(postgres_url) as database:
        store = EventStore(database)
        assert [store.count(source=f"cam{i}") for i in range(4)] == [10] * 4


def test_wall_clock_times_and_json_round_trip_exactly(postgres_url: str) -> None:
    now = time.time()  # microseconds matter: events are matched to footage by time
    event = Event(
        "cam1", "loiter", "loitering", now, 2**40, state="start", end_time=now + 1e-6,
        track_id=2**40, attributes={"name": "Zoë ✓", "nested": {"list": [1, 2.5, None]}},
    )  # fmt: skip
    with Database(postgres_url) as database:
        store = EventStore(database)
        store.add([event])
        assert store.get(event.id) == event
        assert store.query(since=now, until=now + 1e-6) == [event]
        index = SegmentIndex(database)
        seg = index.add(SegmentInfo("cam1", "/rec/cam1/a.mp4", now, now + 2.000001, 2**33))
        assert (seg.start_time, seg.end_time, seg.size_bytes) == (now, now + 2.000001, 2**33)
        assert index.between("cam1", now + 2, now + 3) == [seg]


def test_connections_closed_by_the_server_are_replaced(postgres_url: str) -> None:
    """The server dropped every connection (a restart, an idle timeout): the next calls work
    on new ones instead of failing once per pooled connection."""
    with Database(postgres_url) as database:
        store = EventStore(database)
        store.add([Event("cam1", "count", "line_crossing", 1.0, 10)])
        other = create_engine(postgres_url)  # not the store's pool: its connection dies
        try:
            with other.connect() as conn:
                killed = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database.url.database},
                ).scalar()
        finally:
            other.dispose()
        assert killed >= 1
        store.add([Event("cam1", "count", "line_crossing", 2.0, 20)])
        assert store.count() == 2


def test_unreachable_server_is_one_line_error(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("vigil").replace("postgres@", "postgres:secret@")
    url = url.replace(f":{postgres_server.port}/", ":1/")  # nothing listens on port 1
    with pytest.raises(DatabaseError) as info:
        Database(url)
    message = str(info.value)
    assert "\n" not in message and "secret" not in message and "***" in message
    assert "127.0.0.1" in message


def test_missing_database_is_one_line_error(postgres_server: PostgresServer) -> None:
    with pytest.raises(DatabaseError, match='database "no_such_db" does not exist'):
        Database(postgres_server.url("no_such_db"))
