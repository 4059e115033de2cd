"""Heat maps and dwell distributions from stored track summaries: exact grids and dwell
statistics from hand-made summaries, on SQLite and PostgreSQL."""

import cv2
import numpy as np
import pytest

from vigil.db.database import Database
from vigil.forensics.heatmap import dwell, grid_shape, heatmap_png, occupancy
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary


def track(track_id, start, samples, source="gate", cls="person", zones=None):
    """A summary from (seconds after `start`, x, y) samples."""
    path = np.array(samples, dtype=np.float32)
    return TrackSummary(
        source=source,
        track_id=track_id,
        class_name=cls,
        first_time=start,
        last_time=start + float(path[-1, 0]),
        path=path,
        zones=zones or {},
    )


SHAPE = (2, 4)  # rows, columns: cells of 0.25 x 0.5


@pytest.fixture
def db(database):
    with Database(database) as db:
        TrackStore(db).add(
            [
                # 2 s in the top-left cell, 1 s in row 1 column 2, its last sample lasts 0 s
                track(1, 1000.0, [(0, 0.1, 0.1), (1, 0.1, 0.1), (2, 0.6, 0.6), (3, 0.9, 0.9)]),
                # a car parked 10 s in row 1 column 1
                track(2, 1000.0, [(0, 0.3, 0.8), (10, 0.3, 0.8)], cls="car"),
                # another camera, same place and time
                track(3, 1000.0, [(0, 0.1, 0.1), (5, 0.1, 0.1)], source="yard"),
                # long before
                track(4, 10.0, [(0, 0.1, 0.1), (5, 0.1, 0.1)]),
                # on the right and bottom edges exactly: the last cell
                track(5, 1000.0, [(0, 1.0, 1.0), (4, 1.0, 1.0)]),
                # began 40 min before the range, still there in it: its last 5 s count
                track(6, -1395.0, [(0, 0.9, 0.1), (2400, 0.9, 0.1)]),
            ]
        )
        yield db


def test_occupancy_sums_the_seconds_spent_per_cell(db):
    heat = occupancy(db, "gate", 1000.0, 2000.0, shape=SHAPE)
    np.testing.assert_allclose(heat.grid, [[2, 0, 0, 5], [0, 10, 1, 4]])
    assert heat.tracks == 4
    assert heat.peak == 10.0
    assert occupancy(db, "yard", 1000.0, 2000.0, shape=SHAPE).grid.sum() == 5.0
    assert occupancy(db, "nowhere", 0.0, 2000.0, shape=SHAPE).tracks == 0


def test_occupancy_clips_samples_to_the_time_range(db):
    heat = occupancy(db, "gate", 1001.5, 1005.0, shape=SHAPE)
    # track 1: 0.5 s of its second sample, then 1 s; the car, track 6 3.5 s; track 5 2.5 s
    np.testing.assert_allclose(heat.grid, [[0.5, 0, 0, 3.5], [0, 3.5, 1, 2.5]])
    assert heat.tracks == 4
    assert occupancy(db, "gate", 1005.0, 2000.0, shape=SHAPE).tracks == 1  # only the car left


def test_occupancy_per_class_and_in_small_batches(db):
    people = occupancy(db, "gate", 1000.0, 2000.0, classes=["person"], shape=SHAPE)
    np.testing.assert_allclose(people.grid, [[2, 0, 0, 5], [0, 0, 1, 4]])
    batched = occupancy(db, "gate", 1000.0, 2000.0, shape=SHAPE, batch=1)
    np.testing.assert_allclose(batched.grid, [[2, 0, 0, 5], [0, 10, 1, 4]])


def test_dwell_distribution_per_zone(database):
    with Database(database) as db:
        TrackStore(db).add(
            [
                track(
                    1, 100.0, [(0, 0.5, 0.5), (30, 0.5, 0.5)], zones={"bench": 20.0, "door": 3.0}
                ),
                track(2, 200.0, [(0, 0.5, 0.5), (10, 0.5, 0.5)], zones={"bench": 4.0}),
                track(3, 300.0, [(0, 0.5, 0.5), (70, 0.5, 0.5)], zones={"bench": 65.0}),
                track(4, 400.0, [(0, 0.5, 0.5), (9, 0.5, 0.5)], cls="car", zones={"bench": 9.0}),
                # ends after the range: counted in the next one
                track(5, 900.0, [(0, 0.5, 0.5), (200, 0.5, 0.5)], zones={"bench": 200.0}),
                track(6, 100.0, [(0, 0.5, 0.5), (5, 0.5, 0.5)], source="yard", zones={"x": 5.0}),
            ]
        )
        people = {d.zone: d for d in dwell(db, "gate", 0.0, 1000.0, classes=["person"])}
        everyone = dwell(db, "gate", 0.0, 1000.0)
        later = dwell(db, "gate", 1000.0, 2000.0)
    assert sorted(people) == ["bench", "door"]
    bench = people["bench"]
    assert (bench.count, bench.p50, bench.p90, bench.max) == (3, 20.0, 56.0, 65.0)
    assert bench.mean == pytest.approx(29.667)
    assert bench.buckets == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0]  # [0,5) [10,30) [60,120)
    assert (people["door"].count, people["door"].p90, people["door"].buckets[0]) == (1, 3.0, 1)
    assert [(d.zone, d.count) for d in everyone] == [("bench", 4), ("door", 1)]
    assert [(d.zone, d.count, d.buckets[5]) for d in later] == [("bench", 1, 1)]


def test_grid_follows_the_frame_aspect():
    assert grid_shape((768, 576)) == (48, 64)
    assert grid_shape((1920, 1080)) == (36, 64)
    assert grid_shape(None) == (36, 64)


def test_png_is_transparent_where_no_time_was_spent():
    grid = np.zeros((4, 8))
    grid[1, 1] = 100.0
    grid[3, 6] = 1.0
    image = cv2.imdecode(np.frombuffer(heatmap_png(grid, (80, 40)), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (40, 80, 4)
    alpha = image[:, :, 3]
    assert alpha.max() == alpha[10:20, 10:20].max() > 200  # the busiest cell, nearly opaque
    assert alpha[35, 65] > 0  # a quiet one shows
    assert alpha[0:5, 40:50].max() == 0 and alpha[35:40, 0:5].max() == 0
    b, _, r = image[15, 15, :3].astype(int)
    assert r > b  # busiest: red end of the colour map
    b, _, r = image[35, 65, :3].astype(int)
    assert b > r  # quiet: blue end
    assert (
        cv2.imdecode(np.frombuffer(heatmap_png(np.zeros((2, 2)), (4, 2)), np.uint8), -1)[
            :, :, 3
        ].max()
        == 0
    )
