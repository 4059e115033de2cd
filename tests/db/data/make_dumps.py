"""How ``vigil-1239fef.sqlite.sql`` and ``vigil-1239fef.postgresql.sql`` were made: a database
written by Vigil at commit 1239fef (schema revision 0004, migrations then in
``vigil/events/migrations``), with rows in every table, dumped as SQL.

Run with that commit's code first on the path (its API: stores opened from a URL)::

    git worktree add --detach /tmp/vigil-old 1239fef
    cp -r src/vigil/cluster /tmp/vigil-old/src/vigil/  # today's private PostgreSQL server
    PYTHONPATH=/tmp/vigil-old/src:tests python tests/db/data/make_dumps.py tests/db/data

`tests/db/test_upgrade_from_1239fef.py` loads the dumps and opens them with today's code.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from argon2 import PasswordHasher

from postgres_server import PostgresServer
from vigil.auth.store import AuthStore
from vigil.cluster.postgres import find_postgres_bin
from vigil.events import Event, EventStore
from vigil.recording.index import SegmentIndex
from vigil.service.messages import SegmentInfo

T0 = 1_764_000_000.0
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def fill(url: str) -> None:
    with EventStore(url) as store:
        store.add(
            [
                Event("gate", "count", "line_crossing", T0 + 1.5, 45, track_id=7, class_id=0,
                      class_name="person", line="door", attributes={"direction": "in"},
                      id="a" * 32),
                Event("yard", "occ", "occupancy", T0 + 2.0, 60, state="start", zone="lawn",
                      attributes={"count": 3, "name": "Zoë ✓", "nested": {"l": [1, 2.5, None]}},
                      id="b" * 32),
                Event("yard", "occ", "occupancy", T0 + 9.0, 270, state="end", end_time=T0 + 9.0,
                      zone="lawn", attributes={"count": 0}, id="b" * 32),
            ]
        )  # fmt: skip
        SegmentIndex(store).add_many(
            [
                SegmentInfo("gate", "/rec/gate/a.mp4", T0, T0 + 10, 123_456, motion=True),
                SegmentInfo("yard", "/rec/yard/b.mp4", T0, T0 + 10, 2**33, objects=True),
            ]
        )
        auth = AuthStore(store.engine, hasher=FAST, clock=lambda: T0)
        auth.add_user("alice", "correct horse battery", "admin")
        auth.add_user("bob", "correct horse battery", "viewer", ["gate"])
        auth.create_token("bob")
        auth.create_session("alice")
        auth.record("alice", "user.add", "bob", {"role": "viewer"}, "127.0.0.1")


def sqlite_dump(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "vigil.db"
        fill(f"sqlite:///{db}")
        with sqlite3.connect(db) as conn:
            out.write_text("\n".join(conn.iterdump()) + "\n")


def postgresql_dump(out: Path) -> None:
    bin_dir = find_postgres_bin()
    assert bin_dir is not None, "PostgreSQL is not installed"
    server = PostgresServer()
    server.start()
    try:
        url = server.create_database("old")
        fill(url)
        name = url.rsplit("/", 1)[1]
        dump = subprocess.run(
            [str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges", "--inserts",
             "--host", server.host, "--port", str(server.port), "--username", "postgres", name],
            check=True, capture_output=True, text=True,
            env=dict(os.environ, PGPASSWORD=server.password()),
        ).stdout  # fmt: skip
        # Without psql's meta-commands (\\restrict ...): the test runs it as plain SQL.
        out.write_text("".join(line for line in dump.splitlines(True) if line[:1] != "\\"))
    finally:
        server.stop()


if __name__ == "__main__":
    target = Path(sys.argv[1])
    sqlite_dump(target / "vigil-1239fef.sqlite.sql")
    postgresql_dump(target / "vigil-1239fef.postgresql.sql")
