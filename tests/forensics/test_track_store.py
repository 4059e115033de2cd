"""`TrackStore`: summaries stored and searched, on SQLite and PostgreSQL."""

import numpy as np
import pytest

from vigil.db.database import Database
from vigil.forensics.store import TrackQuery, TrackStore
from vigil.forensics.summary import TrackSummary


def walk(track_id, start, points, source="gate", cls="person", speed=None, zones=None):
    """A summary of a walk through `points` (normalised), one point a second from `start`."""
    path = np.array([(i, x, y) for i, (x, y) in enumerate(points)], dtype=np.float32)
    return TrackSummary(
        source=source,
        track_id=track_id,
        class_name=cls,
        first_time=start,
        last_time=start + len(points) - 1,
        path=path,
        zones=zones or {},
        speed_kmh=speed,
    )


SQUARE = [(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)]


@pytest.fixture
def store(database):
    with Database(database) as db:
        s = TrackStore(db)
        s.add(
            [
                # through the square: enters at t = 1002 (x = 0.45), 2 s inside
                walk(1, 1000.0, [(0.1, 0.5), (0.3, 0.5), (0.45, 0.5), (0.55, 0.5), (0.9, 0.5)]),
                # near it but never inside (its bounding box overlaps the square's)
                walk(2, 1000.0, [(0.1, 0.1), (0.5, 0.3), (0.9, 0.1)]),
                # jumps over the square between two samples: a segment crosses it
                walk(3, 1100.0, [(0.2, 0.5), (0.8, 0.5)], cls="car", speed=82.0),
                # another camera, same place
                walk(4, 1000.0, [(0.5, 0.5), (0.5, 0.55)], source="yard"),
                # long before the range
                walk(5, 10.0, [(0.5, 0.5), (0.52, 0.5)]),
                # stands in the square for 20 s
                walk(6, 1500.0, [(0.5, 0.5)] * 21, zones={"bench": 20.0}),
            ]
        )
        yield s


def found(store, **query):
    hits = store.search(TrackQuery(start=900.0, end=2000.0, **query))
    return [(h.source, h.track_id) for h in hits], hits


def test_passed_through_a_polygon_on_one_camera(store):
    ids, hits = found(store, sources=["gate"], polygon=SQUARE)
    assert ids == [("gate", 1), ("gate", 3), ("gate", 6)]
    assert hits[0].moment == pytest.approx(1002.0)  # when it entered: the play position
    assert hits[0].dwell == pytest.approx(2.0)
    assert hits[1].dwell == 0.0  # crossed, never sampled inside
    assert hits[0].path[0] == (1000.0, pytest.approx(0.1), pytest.approx(0.5))


def test_all_cameras_classes_speed_and_dwell(store):
    assert found(store, polygon=SQUARE)[0] == [("yard", 4), ("gate", 1), ("gate", 3), ("gate", 6)]
    assert found(store, classes=["car"])[0] == [("gate", 3)]
    assert found(store, min_speed=50)[0] == [("gate", 3)]
    assert found(store, polygon=SQUARE, min_dwell=10)[0] == [("gate", 6)]
    assert found(store, min_dwell=10)[0] == [("gate", 6)]


def test_crossed_a_line_one_way(store):
    down = ((0.5, 0.0), (0.5, 1.0))  # vertical: walking right is "out" (see Line)
    assert found(store, sources=["gate"], line=down)[0] == [("gate", 2), ("gate", 1), ("gate", 3)]
    assert found(store, sources=["gate"], line=down, direction="in")[0] == []
    ids, hits = found(store, sources=["gate"], line=down, direction="out", classes=["person"])
    assert ids == [("gate", 2), ("gate", 1)]
    assert hits[1].moment == pytest.approx(1003.0)  # the sample after the crossing


def test_time_range_and_retention(store):
    assert found(store)[0][-1] == ("gate", 6)
    assert ("gate", 5) not in found(store)[0]
    assert store.delete_before(1050.0) == 4  # tracks 1, 2, 4 and 5 ended before
    assert found(store, sources=["gate"])[0] == [("gate", 3), ("gate", 6)]
