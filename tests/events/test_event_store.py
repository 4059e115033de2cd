"""`EventStore`: add, query, filter, paginate, and long-lived events as one row."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from vigil.db.database import Database, DatabaseError
from vigil.db.engine import database_url
from vigil.db.schema import EventRow
from vigil.events import Event, EventStore


@pytest.fixture
def store(database: str):
    """A store on each backend (tests/postgres_server.py's `database`: SQLite, PostgreSQL)."""
    with Database(database) as opened:
        s = EventStore(opened)
        yield s


def crossing(t: float, source: str = "cam1", class_name: str = "person", **kw) -> Event:
    return Event(
        source=source, app="count", type="line_crossing", start_time=t, end_time=t,
        frame_index=int(t * 10), class_name=class_name, line="gate", **kw,
    )  # fmt: skip


def test_add_and_query_round_trip(store: EventStore) -> None:
    event = Event(
        source="cam1", app="loiter", type="loitering", start_time=1.5, frame_index=15,
        state="start", track_id=7, class_id=0, class_name="person", zone="door",
        attributes={"speed": 1.25, "tags": ["a", "b"], "nested": {"x": 1}},
    )  # fmt: skip
    assert store.add([event]) == []  # nothing refused (no fence)
    assert store.query() == [event]
    assert store.get(event.id) == event
    assert store.get("missing") is None


def test_add_accepts_any_iterable_and_empty(store: EventStore) -> None:
    assert store.add([]) == []
    assert store.add(crossing(t) for t in (1.0, 2.0)) == []
    assert store.count() == 2


def test_filters(store: EventStore) -> None:
    store.add(
        [
            crossing(1.0),
            crossing(2.0, class_name="car"),
            crossing(3.0, source="cam2"),
            Event("cam1", "loiter", "loitering", 4.0, 40, class_name="person"),
        ]
    )
    assert [e.start_time for e in store.query(source="cam1")] == [1.0, 2.0, 4.0]
    assert [e.start_time for e in store.query(app="loiter")] == [4.0]
    assert [e.start_time for e in store.query(type="line_crossing")] == [1.0, 2.0, 3.0]
    assert [e.start_time for e in store.query(class_name="car")] == [2.0]
    assert [e.start_time for e in store.query(source="cam1", class_name="person")] == [1.0, 4.0]
    assert [e.start_time for e in store.query(since=2.0)] == [2.0, 3.0, 4.0]
    assert [e.start_time for e in store.query(until=3.0)] == [1.0, 2.0]
    assert [e.start_time for e in store.query(since=2.0, until=4.0)] == [2.0, 3.0]
    assert store.query(source="nope") == []
    assert store.count(source="cam1") == 3
    assert store.count(type="line_crossing", since=2.0) == 2
    assert store.count() == 4


def test_pagination(store: EventStore) -> None:
    store.add(crossing(float(t)) for t in range(25))
    page1 = store.query(limit=10)
    page2 = store.query(limit=10, offset=10)
    page3 = store.query(limit=10, offset=20)
    assert [e.start_time for e in page1] == [float(t) for t in range(10)]
    assert [e.start_time for e in page2] == [float(t) for t in range(10, 20)]
    assert [e.start_time for e in page3] == [float(t) for t in range(20, 25)]
    assert len(store.query()) == 25  # default limit 100
    assert len(store.query(limit=None)) == 25
    assert store.query(limit=0) == []
    assert [e.start_time for e in store.query(limit=3, newest_first=True)] == [24.0, 23.0, 22.0]
    assert store.count() == 25
    with pytest.raises(ValueError):
        store.query(offset=-1)


def test_long_event_start_update_end_is_one_row(store: EventStore) -> None:
    start = Event(
        "cam1", "loiter", "loitering", 10.0, 100, state="start", track_id=3,
        class_name="person", zone="door", attributes={"dwell": 0.0, "first": True},
    )  # fmt: skip
    store.add([start])
    store.add([Event("cam1", "loiter", "loitering", 10.0, 150, state="update", id=start.id,
                     attributes={"dwell": 5.0})])  # fmt: skip
    store.add([Event("cam1", "loiter", "loitering", 10.0, 220, state="end", end_time=22.0,
                     id=start.id, attributes={"dwell": 12.0})])  # fmt: skip
    events = store.query()
    assert len(events) == 1 and store.count() == 1
    (event,) = events
    assert event.id == start.id
    assert event.state == "end"
    assert event.start_time == 10.0 and event.end_time == 22.0
    assert event.frame_index == 100  # the start's frame
    assert event.track_id == 3 and event.zone == "door" and event.class_name == "person"
    assert event.attributes == {"dwell": 12.0, "first": True}


def test_start_and_end_in_the_same_batch(store: EventStore) -> None:
    start = Event("cam1", "occupancy", "occupied", 1.0, 10, state="start", attributes={"n": 1})
    end = Event("cam1", "occupancy", "occupied", 1.0, 90, state="end", end_time=9.0, id=start.id,
                attributes={"n": 2})  # fmt: skip
    other = crossing(5.0)
    assert store.add([start, other, end]) == []
    assert store.count() == 2
    event = store.get(start.id)
    assert event is not None
    assert (event.state, event.end_time, event.attributes) == ("end", 9.0, {"n": 2})


def test_end_without_stored_start_is_inserted(store: EventStore) -> None:
    end = Event("cam1", "loiter", "loitering", 3.0, 90, state="end", end_time=9.0)
    store.add([end])
    assert store.query() == [end]


def test_late_update_does_not_reopen_ended_event(store: EventStore) -> None:
    start = Event("cam1", "loiter", "loitering", 1.0, 10, state="start")
    store.add([start])
    store.add([Event("cam1", "loiter", "loitering", 1.0, 50, state="end", end_time=5.0,
                     id=start.id, attributes={"dwell": 4.0})])  # fmt: skip
    store.add([Event("cam1", "loiter", "loitering", 1.0, 40, state="update", id=start.id,
                     zone="door", attributes={"dwell": 3.0, "extra": 1})])  # fmt: skip
    event = store.get(start.id)
    assert event is not None
    assert (event.state, event.end_time) == ("end", 5.0)
    assert event.attributes == {"dwell": 4.0, "extra": 1}  # only missing keys filled
    assert event.zone == "door"  # empty fields filled


def test_numpy_values_in_attributes(store: EventStore) -> None:
    event = crossing(
        1.0,
        track_id=np.int64(4),
        attributes={"conf": np.float32(0.5), "box": np.array([1, 2, 3, 4]), "ids": {2, 1}},
    )
    store.add([event])
    (stored,) = store.query()
    assert stored.track_id == 4 and type(stored.track_id) is int
    assert stored.attributes == {"conf": 0.5, "box": [1, 2, 3, 4], "ids": [1, 2]}


def test_a_bad_record_costs_only_itself(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A record the database refuses (NOT NULL here) or that is not JSON is dropped alone,
    counted and logged in one line; the rest of its batch is stored."""
    good = crossing(1.0)
    clash = crossing(2.0)
    clash.source = None  # type: ignore[assignment]
    unserialisable = crossing(3.0)
    unserialisable.attributes = {"bad": object()}  # set after the event was made
    with caplog.at_level("ERROR", logger="vigil.events.store"):
        assert store.add([good, clash, unserialisable, crossing(4.0)]) == []
    assert [e.start_time for e in store.query()] == [1.0, 4.0]
    assert store.rejected == 2
    (line,) = [r.getMessage() for r in caplog.records]
    assert "dropped 2 of 4" in line and clash.id in line and "\n" not in line


@pytest.mark.parametrize(
    "bad",
    [
        {"track_id": 2**70},
        {"start_time": float("nan")},
        {"start_time": float("inf")},
        {"end_time": float("-inf")},
    ],
    ids=["track_id 2**70", "NaN start", "inf start", "-inf end"],
)
def test_one_bad_app_event_does_not_poison_the_batch(store: EventStore, bad: dict) -> None:
    others = [crossing(float(t), source=f"cam{t}") for t in range(1, 4)]
    poisoned = crossing(9.0)
    for name, value in bad.items():
        setattr(poisoned, name, value)
    assert store.add([others[0], poisoned, *others[1:]]) == []
    assert store.query() == others
    assert store.rejected == 1


def test_text_is_stored_readable(store: EventStore) -> None:
    """Lone surrogates and NaN in what an app sends are stored as U+FFFD and null, so every
    reader can render them as UTF-8 strict JSON."""
    event = crossing(1.0, attributes={"name": "\ud800x", "\udfffkey": [float("nan"), 1.5]})
    event.zone = "hall\ud800"
    store.add([event])
    (stored,) = store.query()
    assert stored.attributes == {"name": "\ufffdx", "\ufffdkey": [None, 1.5]}
    assert stored.zone == "hall\ufffd"
    json.dumps(dataclasses.asdict(stored), allow_nan=False).encode("utf-8")


def test_bad_values_stored_before_are_read_safely(tmp_path: Path) -> None:
    """Rows SQLite took before values were checked (a NaN in the JSON, a lone surrogate, an
    infinite end; PostgreSQL's JSONB refuses the first two) come out as strict JSON: no
    reader fails on them."""
    database = f"sqlite:///{tmp_path / 'events.db'}"
    with Database(database) as opened:
        store = EventStore(opened)
        store.add([crossing(1.0)])
    with sqlite3.connect(tmp_path / "events.db") as conn:
        conn.execute(
            "UPDATE events SET attributes = ?, end_time = ?",
            ('{"count": NaN, "name": "\\ud800"}', 1e999),
        )
    with Database(database) as opened:
        store = EventStore(opened)
        (event,) = store.query()
        assert event.attributes == {"count": None, "name": "\ufffd"}
        assert event.end_time is None
        json.dumps(dataclasses.asdict(event), allow_nan=False).encode("utf-8")


def test_created_at_is_utc(store: EventStore) -> None:
    store.add([crossing(1.0)])
    with store.database.read() as session:
        created = session.scalars(select(EventRow.created_at)).one()
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)


def test_closed_database_refuses(tmp_path: Path) -> None:
    database = Database(tmp_path / "e.db")
    store = EventStore(database)
    database.close()
    database.close()  # idempotent
    with pytest.raises(DatabaseError, match="closed"):
        store.query()
    with pytest.raises(DatabaseError, match="closed"):
        store.add([crossing(1.0)])


def test_repr_hides_password() -> None:
    database = Database.__new__(Database)
    database.url = database_url("postgresql+psycopg://u:secret@h/db")
    for shown in (repr(database), str(database), repr(EventStore(database))):
        assert "secret" not in shown and "***" in shown


def test_concurrent_writers_on_a_fresh_file(tmp_path: Path) -> None:
    """Two pipelines (e.g. two cameras) opening and writing the same new SQLite file."""
    db = tmp_path / "shared.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(source: str) -> None:
        try:
            barrier.wait()
            with Database(db) as database:
                store = EventStore(database)
                for i in range(20):
                    store.add([crossing(float(i), source=source)])
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=run, args=(s,)) for s in ("cam1", "cam2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Database(db) as database:
        store = EventStore(database)
        assert store.count(source="cam1") == 20 and store.count(source="cam2") == 20
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_query_and_count_by_several_sources(store: EventStore) -> None:
    store.add([crossing(1.0), crossing(2.0, source="cam2"), crossing(3.0, source="cam3")])
    assert [e.source for e in store.query(sources=["cam1", "cam3"])] == ["cam1", "cam3"]
    assert [e.source for e in store.query(sources={"cam3", "cam2"}, newest_first=True)] == [
        "cam3",
        "cam2",
    ]
    assert store.count(sources=("cam1", "cam2")) == 2
    assert store.query(sources=[]) == [] and store.count(sources=[]) == 0
    # with `source` both filters hold
    assert store.count(source="cam1", sources=["cam1", "cam2"]) == 1
    assert store.count(source="cam3", sources=["cam1", "cam2"]) == 0
    assert [e.start_time for e in store.query(sources=["cam2", "cam3"], since=2.5)] == [3.0]
    page = store.query(sources=["cam1", "cam2", "cam3"], limit=1, offset=1)
    assert [e.start_time for e in page] == [2.0]
    with pytest.raises(TypeError, match="not one string"):
        store.query(sources="cam1")


def test_counts_are_aggregated_by_the_database(store: EventStore) -> None:
    """Line crossings and occupancy samples per bucket, on each backend: what `/api/counts`
    serves (buckets of 10 s from t=100; samples that are not numbers are left out)."""

    def sample(t: float, count: object, zone: str = "hall") -> Event:
        return Event("cam1", "room", "occupancy", t, 0, zone=zone, attributes={"count": count})

    store.add(
        [
            crossing(101.0, attributes={"direction": "in"}),
            crossing(105.0, attributes={"direction": "in"}),
            crossing(112.0, attributes={"direction": "out"}),
            crossing(113.0),  # no direction
            crossing(131.0, attributes={"direction": "in"}),  # past the 3 buckets
            crossing(99.0, attributes={"direction": "in"}),  # before the first
            sample(100.0, 2),
            sample(104.0, 5.9),
            sample(108.0, 3),
            sample(109.0, True),
            sample(109.5, "many"),
            sample(121.0, 1),
        ]
    )
    counts = {(c.direction, c.bucket): c.count for c in store.crossing_counts(100.0, 10.0, 3)}
    assert counts == {("in", 0): 2, ("out", 1): 1, ("unknown", 1): 1}
    occupancy = sorted(
        (b.bucket, b.samples, b.max, b.total, b.last)
        for b in store.occupancy_buckets(100.0, 10.0, 3, sources={"cam1"})
    )
    assert occupancy == [(0, 3, 5, 10, 3), (2, 1, 1, 1, 1)]
    assert store.time_range(("occupancy",)) == (100.0, 121.0)
    assert store.occupancy_buckets(100.0, 10.0, 3, sources=set()) == []
