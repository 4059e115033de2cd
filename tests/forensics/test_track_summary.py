"""`TrackSummarizer`: tracked objects frame by frame -> one summary per finished track."""

import cv2
import numpy as np
import pytest

from vigil.forensics.summary import (
    CROP_HEIGHT,
    MAX_PATH_POINTS,
    MAX_SUMMARY_SECONDS,
    TrackSummarizer,
)
from vigil.geometry import Line, Zone

SIZE = (1000, 500)
CLASSES = ("person", "bicycle", "car")


def summarizer(**kwargs) -> TrackSummarizer:
    zones = {
        "left": Zone("left", ((0, 0), (400, 0), (400, 500), (0, 500))).to_pixels(*SIZE),
        "road": Zone(
            "road",
            ((0, 300), (1000, 300), (1000, 500), (0, 500)),
            ground=((0, 0), (100, 0), (100, 20), (0, 20)),
        ).to_pixels(*SIZE),
    }
    lines = {"middle": Line("middle", (500, 0), (500, 500)).to_pixels(*SIZE)}
    return TrackSummarizer("cam", zones, lines, CLASSES, **kwargs)


def feed(s: TrackSummarizer, frames, fps: float = 10.0, image=None):
    """Frames of ``(track, class, anchor x, anchor y[, box height])``: boxes 20 px wide."""
    out = []
    for i, objects in enumerate(frames):
        ids = np.array([o[0] for o in objects], dtype=np.int64)
        classes = np.array([o[1] for o in objects], dtype=np.int64)
        boxes = [
            (x - 10, y - (o[4] if len(o) > 4 else 40), x + 10, y)
            for o in objects
            for x, y in [o[2:4]]
        ]
        xyxy = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        out += s.update(i / fps, SIZE, ids, xyxy, classes, image)
    return out


def test_a_walk_left_to_right_is_summarised_when_lost():
    s = summarizer()
    # 10 s walking at 100 px/s along y = 200 (not on the road), then gone for 3 s
    frames = [[(7, 0, 50 + 10 * i, 200)] for i in range(100)] + [[]] * 30
    (summary,) = feed(s, frames)
    assert (summary.source, summary.track_id, summary.class_name) == ("cam", 7, "person")
    assert summary.first_time == 0.0 and summary.last_time == pytest.approx(9.9, abs=0.25)
    assert summary.zones == {"left": pytest.approx(3.5, abs=0.3)}
    assert [(line, way) for line, way, _ in summary.lines] == [("middle", "out")]  # see Line
    assert summary.lines[0][2] == pytest.approx(4.5, abs=0.3)  # x = 500 at 4.5 s
    assert summary.speed_kmh is None  # never in the calibrated zone
    assert summary.dwell == summary.zones["left"]
    assert len(summary.path) <= MAX_PATH_POINTS
    assert summary.path[0].tolist() == pytest.approx([0.0, 0.05, 0.4])
    assert summary.bounds == pytest.approx((0.05, 0.4, 1.04, 0.4), abs=0.01)
    assert feed(s, [[]] * 10) == []  # reported once


def test_speed_on_the_calibrated_road_and_the_majority_class():
    s = summarizer()
    # 10 px per frame at 10 fps on a road 1000 px = 100 m wide: 10 m/s = 36 km/h
    frames = [[(3, 2 if i % 4 else 0, 20 * i + 10, 400)] for i in range(45)]
    (summary,) = feed(s, frames) + s.finish()
    assert summary.class_name == "car"
    assert summary.speed_kmh == pytest.approx(72.0, rel=0.02)  # 20 px per frame
    assert summary.zones["road"] == pytest.approx(4.4, abs=0.3)


def test_end_of_stream_summarises_open_tracks_and_every_track_once():
    s = summarizer()
    frames = [[(1, 0, 100, 100), (2, 0, 800, 100 + i)] for i in range(20)]
    assert feed(s, frames) == []
    summaries = s.finish()
    assert sorted(x.track_id for x in summaries) == [1, 2]
    assert s.finish() == []


def test_a_long_track_is_stored_in_pieces():
    s = summarizer()
    summaries = []
    fps = 1.0  # a parked car seen once a second for 2.5 hours
    for i in range(int(2.5 * 3600)):
        summaries += s.update(
            i / fps, SIZE, np.array([5]), np.array([[580.0, 400.0, 620.0, 450.0]]), np.array([2])
        )
    summaries += s.finish()
    assert len(summaries) == 3
    assert all(x.last_time - x.first_time <= MAX_SUMMARY_SECONDS for x in summaries)
    assert summaries[1].first_time == pytest.approx(summaries[0].last_time + 1, abs=1.01)


def test_each_track_keeps_a_crop_of_itself_where_it_looked_largest():
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    image[:, :, 2] = np.arange(SIZE[0]) % 256  # red grows to the right: tells where a crop is from
    s = summarizer()
    # coming closer: the box grows from 40 to 240 px high while walking right
    frames = [[(4, 0, 100 + 10 * i, 300, 40 + 5 * i)] for i in range(41)]
    (summary,) = feed(s, frames, image=image) + s.finish()
    x1, y1, x2, y2, width, height = summary.crop_box
    assert (width, height) == SIZE
    assert x1 >= 420 and y2 >= 300 and y1 <= 100  # late in the walk: large, near the end
    crop = cv2.imdecode(np.frombuffer(summary.crop, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[0] <= CROP_HEIGHT
    assert abs(int(crop[:, :, 2].mean()) - (x1 + x2) // 2 % 256) <= 6
    assert summarizer().update(0.0, SIZE, np.array([1]), np.zeros((1, 4)), np.array([0])) == []
