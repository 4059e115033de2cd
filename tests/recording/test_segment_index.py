"""SegmentIndex: the segments table (migration 0002) and its queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.db.database import Database, DatabaseError
from vigil.events import Event
from vigil.events.store import EventStore
from vigil.recording.index import Segment, SegmentIndex
from vigil.recording.segments import SegmentInfo


def info(start: float, end: float, camera: str = "cam1", size: int = 100, **flags) -> SegmentInfo:
    return SegmentInfo(camera, f"/rec/{camera}/{start:.3f}.mp4", start, end, size, **flags)


@pytest.fixture
def index(database: str):
    """An index on each backend (tests/postgres_server.py's `database`: SQLite, PostgreSQL)."""
    with Database(database) as opened:
        ix = SegmentIndex(opened)
        yield ix


def test_add_is_idempotent_per_path(index: SegmentIndex) -> None:
    first = index.add(info(10, 20))
    assert isinstance(first, Segment) and first.id > 0 and first.created_at is not None
    again = index.add(info(10, 20.5, size=300, motion=True))
    assert again.id == first.id and again.size_bytes == 300 and again.motion
    assert index.count() == 1 and index.get(first.id) == again
    assert index.get(12345) is None


def test_between_returns_overlapping_segments_in_order(index: SegmentIndex) -> None:
    index.add_many([info(30, 40), info(10, 20), info(20, 30), info(45, 55), info(0, 10, "cam2")])
    assert [s.start_time for s in index.between("cam1", 15, 42)] == [10, 20, 30]
    assert [s.start_time for s in index.between("cam1", 20, 30)] == [20]  # touching ends
    assert index.between("cam1", 100, 200) == []
    assert [s.camera for s in index.between("cam2", 0, 100)] == ["cam2"]


def test_gaps(index: SegmentIndex) -> None:
    index.add_many([info(0, 10), info(10.4, 20), info(25, 35), info(35.5, 45), info(60, 70)])
    assert index.gaps("cam1", 0, 70) == [(20, 25), (45, 60)]  # 0.4 s and 0.5 s are jitter
    assert index.gaps("cam1", 0, 70, min_gap=0.3) == [(10, 10.4), (20, 25), (35, 35.5), (45, 60)]
    assert index.gaps("cam1", -5, 80, edges=True) == [(-5, 0), (20, 25), (45, 60), (70, 80)]
    assert index.gaps("cam2", 0, 10, edges=True) == [(0, 10)]
    assert index.gaps("cam2", 0, 10) == []


def test_activity_sums_footage_per_bucket_in_the_database(index: SegmentIndex) -> None:
    index.add_many(
        [
            info(-4, 6),  # overlaps the range's start: clipped, in the first bucket
            info(6, 16, motion=True),
            info(16, 26),
            info(29, 39, objects=True),
            info(55, 65),  # overlaps the end: clipped
            info(0, 100, "cam2"),
        ]
    )
    buckets = index.activity("cam1", 0, 60, 20)
    # Each segment is in the bucket its (clipped) start falls in; 6/20 = 0.3 -> 0 and
    # 16/20 = 0.8 -> 0 on both backends (PostgreSQL's CAST rounds: floored first).
    assert [(b.index, b.first, b.last, b.recorded_s, b.segments, b.motion, b.objects)
            for b in buckets] == [
        (0, 0, 26, 26, 3, True, False),
        (1, 29, 39, 10, 1, False, True),
        (2, 55, 60, 5, 1, False, False),
    ]  # fmt: skip
    assert index.activity("cam1", 100, 200, 10) == []


def test_delete_total_and_cameras(index: SegmentIndex) -> None:
    a, b, c = index.add_many([info(0, 10, size=5), info(10, 20, size=7), info(0, 10, "cam2", 11)])
    assert index.total_bytes() == 23 and index.total_bytes("cam1") == 12
    assert index.cameras() == ["cam1", "cam2"]
    assert index.delete([a.id, a.id, 999]) == 1
    assert index.total_bytes() == 18 and index.count("cam1") == 1
    assert index.delete([]) == 0


def test_oldest_filters_and_pages(index: SegmentIndex) -> None:
    index.add_many(
        [
            info(t, t + 10, "cam1" if t % 20 else "cam2", motion=t % 30 == 0)
            for t in range(0, 100, 10)
        ]
    )
    assert [s.start_time for s in index.oldest(limit=3)] == [0, 10, 20]
    assert [s.start_time for s in index.oldest("cam2", limit=None)] == [0, 20, 40, 60, 80]
    assert [s.start_time for s in index.oldest(active=True, limit=None)] == [0, 30, 60, 90]
    assert [s.start_time for s in index.oldest(ended_before=35, active=False)] == [10, 20]
    page = index.oldest(limit=4)
    rest = index.oldest(limit=None, after=(page[-1].start_time, page[-1].id))
    assert [s.start_time for s in page + rest] == list(range(0, 100, 10))
    assert [s.start_time for s in index.iter_oldest(batch=3)] == list(range(0, 100, 10))


def test_shares_the_database_with_the_event_store(tmp_path: Path) -> None:
    with Database(tmp_path / "vigil.db") as database:
        store = EventStore(database)
        store.add([Event("cam1", "count", "line_crossing", 1.0, 10)])
        SegmentIndex(database).add(info(0, 10))
        assert store.count() == 1
        assert SegmentIndex(database).count() == 1


def test_bad_database_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(DatabaseError, match="file is not a database"):
        Database(bad)


def test_a_nodes_index_sees_counts_and_deletes_only_its_own_segments(database: str) -> None:
    """Cluster nodes share one database: a node's index (its retention, its recovery) works
    on its own files only; the head's index (node None) sees every node's, and where each
    file is."""
    with Database(database) as opened:
        a, b, head = (
            SegmentIndex(opened, "node-a"),
            SegmentIndex(opened, "node-b"),
            SegmentIndex(opened),
        )
        on_a = a.add_many([info(10, 20), info(20, 30, size=5), info(0, 10, "cam2")])
        assert {s.node for s in on_a} == {"node-a"}
        (on_b,) = b.add_many([info(30, 40, size=7)])
        assert on_b.node == "node-b"
        assert (a.count(), b.count(), head.count()) == (3, 1, 4)
        assert (a.total_bytes(), b.total_bytes(), head.total_bytes()) == (205, 7, 212)
        assert (a.cameras(), b.cameras(), head.cameras()) == (
            ["cam1", "cam2"],
            ["cam1"],
            ["cam1", "cam2"],
        )
        assert [s.start_time for s in a.between("cam1", 0, 50)] == [10, 20]
        assert [s.start_time for s in head.between("cam1", 0, 50)] == [10, 20, 30]
        assert a.gaps("cam1", 0, 50, edges=True) == [(0.0, 10.0), (30.0, 50.0)]
        assert b.gaps("cam1", 0, 50, edges=True) == [(0.0, 30.0), (40.0, 50.0)]
        assert [s.node for s in head.oldest()] == ["node-a", "node-a", "node-a", "node-b"]
        assert [s.id for s in b.iter_oldest(batch=1)] == [on_b.id]
        assert a.get(on_b.id) is None and head.get(on_b.id) == on_b
        assert a.delete([s.id for s in head.oldest()]) == 3  # node-b's row is not a's to delete
        assert [s.id for s in head.oldest()] == [on_b.id]


def test_the_single_box_index_stamps_no_node(index: SegmentIndex) -> None:
    seg = index.add(info(10, 20))
    assert seg is not None and seg.node is None
