"""Tracked boxes stored beside each segment: round trip, interpolation, the worker's
collector, retention deleting them with their segment."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.db.database import Database
from vigil.detection.detections import Detections
from vigil.privacy.boxes import BoxTrack, FrameBoxes, boxes_path, read_boxes, write_boxes
from vigil.recording.index import SegmentIndex
from vigil.recording.retention import CameraRetention, RetentionPolicy
from vigil.recording.segments import SegmentInfo
from vigil.service.worker.boxes import SegmentBoxes
from vigil.service.worker.camera import CameraWorker, WorkerSpec

NOW = 1_700_000_000.0
DAY = 86400.0


def frame(t: float, ids: list[int], boxes: list[list[float]], names: list[str]) -> FrameBoxes:
    return FrameBoxes(t, np.array(boxes, np.float32).reshape(-1, 4), np.array(ids), names)


def test_round_trip_and_interpolation(tmp_path: Path) -> None:
    track = BoxTrack.from_frames(
        [
            frame(0.4, [1, 2], [[10, 10, 20, 40], [100, 0, 110, 30]], ["person", "car"]),
            frame(0.0, [1], [[0, 0, 10, 30]], ["person"]),
            frame(0.8, [1, 3], [[20, 20, 30, 50], [5, 5, 9, 9]], ["person", "person"]),
        ]
    )
    segment = tmp_path / "12-00-00.000.mp4"
    assert write_boxes(segment, track) == tmp_path / "12-00-00.000.boxes"
    loaded = read_boxes(segment)
    assert loaded is not None and len(loaded) == 3
    np.testing.assert_array_equal(loaded.times, [0.0, 0.4, 0.8])

    boxes, ids, names = loaded.at(0.2)  # halfway: track 1 interpolated, track 2 held early
    order = np.argsort(ids)
    assert ids[order].tolist() == [1, 2] and [names[i] for i in order] == ["person", "car"]
    np.testing.assert_allclose(boxes[order][0], [5, 5, 15, 35])
    np.testing.assert_allclose(boxes[order][1], [100, 0, 110, 30])
    boxes, ids, _ = loaded.at(0.6)  # track 2 held until the next analysed frame, 3 early
    assert sorted(ids.tolist()) == [1, 2, 3]
    np.testing.assert_allclose(boxes[ids == 1][0], [15, 15, 25, 45])
    boxes, ids, _ = loaded.at(5.0)  # after the last analysed frame: its boxes
    assert sorted(ids.tolist()) == [1, 3]
    assert loaded.covers(2.5) and not loaded.covers(3.0)
    assert loaded.track_ids_between(0.3, 0.5).tolist() == [1, 2]


def test_missing_or_damaged_boxes_read_as_none(tmp_path: Path) -> None:
    segment = tmp_path / "a.mp4"
    assert read_boxes(segment) is None
    boxes_path(segment).write_bytes(b"not an archive")
    assert read_boxes(segment) is None
    empty = BoxTrack.from_frames([])
    write_boxes(segment, empty)
    loaded = read_boxes(segment)
    assert loaded is not None and len(loaded) == 0 and not loaded.covers(0.0)
    assert len(loaded.at(1.0)[0]) == 0


def detections(ids: list[int], x: float) -> Detections:
    n = len(ids)
    xyxy = np.array([[x, 0, x + 10, 20]] * n, np.float32)
    return Detections(xyxy, np.ones(n, np.float32), np.zeros(n, np.int64), np.array(ids))


def test_worker_collector_writes_each_segment_once_analysis_has_passed_it(tmp_path: Path) -> None:
    collector = SegmentBoxes(["person"])
    first = SegmentInfo("cam", str(tmp_path / "a.mp4"), NOW, NOW + 10, 1)
    second = SegmentInfo("cam", str(tmp_path / "b.mp4"), NOW + 10, NOW + 20, 1)
    for i in range(8):  # analysis lags: frames up to NOW + 7 seen when the segment ends
        collector.add(NOW + i, detections([7], float(i)))
    collector.segment_done(first)
    assert read_boxes(first.path) is None  # analysis has not passed its end yet
    for i in range(8, 12):
        collector.add(NOW + i, detections([7, 8], float(i)))
    track = read_boxes(first.path)
    assert track is not None
    np.testing.assert_allclose(track.times, np.arange(10.0))  # segment-relative, [start, end)
    assert track.track_ids_between(0, 10).tolist() == [7, 8]
    collector.segment_done(second)
    collector.close()  # the worker stops: what is pending is written
    track = read_boxes(second.path)
    assert track is not None and track.times.tolist() == [0.0, 1.0]


def test_retention_deletes_the_boxes_with_their_segment(database: str, tmp_path: Path) -> None:
    with Database(database) as opened:
        index = SegmentIndex(opened)
        paths = []
        for age in (3 * DAY, 1 * DAY):
            start = NOW - age
            path = tmp_path / "cam" / f"{start:.0f}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0" * 100)
            write_boxes(path, BoxTrack.from_frames([frame(0.0, [1], [[0, 0, 1, 1]], ["person"])]))
            index.add(SegmentInfo("cam", str(path), start, start + 10, 100))
            paths.append(path)
        policy = RetentionPolicy(default=CameraRetention("continuous", retain_days=2))
        assert policy.apply(index, lambda since: [], NOW) == [str(paths[0])]
        assert not paths[0].exists() and not boxes_path(paths[0]).exists()
        assert paths[1].exists() and boxes_path(paths[1]).exists()


@pytest.mark.parametrize(("t", "seen"), [(-1.0, 1), (0.0, 1), (0.39, 1), (0.4, 0), (9.0, 0)])
def test_at_is_defined_everywhere(t: float, seen: int) -> None:
    track = BoxTrack.from_frames(
        [frame(0.0, [1], [[0, 0, 10, 10]], ["person"]), frame(0.4, [], [], [])]
    )
    boxes, ids, names = track.at(t)
    assert len(boxes) == len(ids) == len(names) == seen  # held until the next analysed frame


def test_worker_stores_the_tracked_boxes_beside_each_segment(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera worker recording the walker clip (looped, played like a camera): every
    segment it reports has its boxes beside it, on the segment's own timeline, with the
    walkers where they are."""
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    site = walker_clip.site(tmp_path / "data", detect_fps=5, record="continuous")
    messages: list[object] = []
    stop = threading.Event()
    worker = CameraWorker(WorkerSpec("door", site, None, stop), messages.append)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        time.sleep(6.0)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    segments = [m for m in messages if isinstance(m, SegmentInfo)]
    assert len(segments) >= 2  # one per pass over the 4 s clip
    for segment in segments:
        track = read_boxes(segment.path)
        assert track is not None, segment.path
        duration = segment.end_time - segment.start_time
        assert len(track) >= 3 and track.times[0] >= 0 and track.times[-1] < duration
        boxes, ids, names = track.at(float(track.times[-1]))
        persons = np.array(names) == "person"
        walkers = boxes[persons & (ids >= 0)]
        assert len(walkers) == 2, ids  # the two walkers, 80 px squares
        np.testing.assert_allclose(walkers[:, 2] - walkers[:, 0], 80, atol=12)
        # Also stored: the weaker detections no track took (masked too), on the walkers.
        for box in boxes[persons & (ids < 0)]:
            overlap = np.minimum(box[2:], walkers[:, 2:]) - np.maximum(box[:2], walkers[:, :2])
            assert (overlap > 0).all(axis=1).any(), (box.tolist(), walkers.tolist())


def test_untracked_boxes_are_held_never_interpolated() -> None:
    """Detections no track took (id -1) on two analysed frames are different people: both
    are masked in between, neither slides towards the other."""
    track = BoxTrack.from_frames(
        [
            frame(0.0, [-1, 4], [[0, 0, 10, 30], [50, 0, 60, 30]], ["person", "person"]),
            frame(0.4, [-1, 4], [[200, 0, 210, 30], [70, 0, 80, 30]], ["person", "person"]),
        ]
    )
    boxes, ids, _ = track.at(0.2)
    assert sorted(ids.tolist()) == [-1, -1, 4]
    untracked = boxes[ids == -1]
    assert sorted(untracked[:, 0].tolist()) == [0, 200]
    np.testing.assert_allclose(boxes[ids == 4][0], [60, 0, 70, 30])
