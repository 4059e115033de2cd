"""A database written by Vigil at commit 1239fef (the last one before `vigil.db`, with the
migrations in ``vigil/events/migrations``) opens with today's code, on SQLite and PostgreSQL.

The databases are SQL dumps of what that commit wrote (tests/db/data/make_dumps.py says how),
with rows in every table. Opened now: the stored revision is one the moved migrations know,
the schema is the models', every row reads back and the stores keep working on it, and the
migrations in their new place take it down a revision and up again with its rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from schema_check import orm_schema_differences
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accounts import FAST_HASHER
from vigil.auth.store import AuthStore
from vigil.db.database import HEAD_REVISION, Database, alembic_config
from vigil.db.engine import database_url
from vigil.events import Event, EventStore
from vigil.recording.index import SegmentIndex
from vigil.service.messages import SegmentInfo

DATA = Path(__file__).with_name("data")
T0 = 1_764_000_000.0
PASSWORD = "correct horse battery"


def load_dump(database: str) -> None:
    """The 1239fef database of `database`'s backend, written into that (empty) database."""
    url = make_url(database)
    script = (DATA / f"vigil-1239fef.{url.get_backend_name()}.sql").read_text()
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database or "") as conn:
            conn.executescript(script)
        return
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(script)  # no parameters: several statements in one go


def stored_revisions(database: str) -> list[str]:
    engine = create_engine(database_url(database))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def test_a_database_of_1239fef_opens_and_keeps_its_rows(database: str) -> None:
    load_dump(database)
    assert stored_revisions(database) == ["0004"]  # 1239fef's newest migration
    with Database(database) as opened:
        events, index = EventStore(opened), SegmentIndex(opened)
        auth = AuthStore(opened, hasher=FAST_HASHER)
        crossing, occupancy = events.query()
        assert (crossing.id, crossing.line, crossing.attributes) == (
            "a" * 32, "door", {"direction": "in"},
        )  # fmt: skip
        assert (occupancy.state, occupancy.end_time, occupancy.start_time) == (
            "end",
            T0 + 9,
            T0 + 2,
        )
        assert occupancy.attributes == {
            "count": 0,
            "name": "Zoë ✓",
            "nested": {"l": [1, 2.5, None]},
        }
        assert [(s.camera, s.size_bytes, s.motion, s.objects) for s in index.oldest()] == [
            ("gate", 123_456, True, False),
            ("yard", 2**33, False, True),
        ]
        assert [u.username for u in auth.users()] == ["alice", "bob"]
        assert auth.authenticate("bob", PASSWORD).cameras == frozenset({"gate"})  # type: ignore[union-attr]
        total, entries = auth.audit_log()
        assert total == 1 and entries[0].detail == {"role": "viewer"}
        # Still writable, ids continuing after the old rows.
        events.add([Event("gate", "count", "line_crossing", T0 + 20, 600, id="c" * 32)])
        assert index.add(SegmentInfo("gate", "/rec/gate/c.mp4", T0 + 10, T0 + 20, 1)).id == 3
        assert events.count() == 3
    assert stored_revisions(database) == [HEAD_REVISION]
    engine = create_engine(database_url(database))
    try:
        with engine.connect() as conn:
            assert orm_schema_differences(conn) == []
    finally:
        engine.dispose()
    command.downgrade(alembic_config(database), "0003")  # the moved scripts know its ids
    assert stored_revisions(database) == ["0003"]
    with Database(database) as opened:  # upgraded to head again on opening
        assert EventStore(opened).count() == 3 and SegmentIndex(opened).count() == 3
