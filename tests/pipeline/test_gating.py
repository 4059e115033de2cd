"""RegionGate: when and where the detector looks."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.detection.detections import Detections
from vigil.motion.detector import MotionDetector, MotionSettings
from vigil.pipeline.gating import RegionGate

W, H = 1920, 1080
INPUT = (416, 256)  # a 1920×1080 frame letterboxed into a 416×416 model input
FULL = [[0, 0, W, H]]
BACKGROUND = np.random.default_rng(2).integers(60, 110, (H, W, 3), dtype=np.uint8)
NO_TRACKS = (Detections.empty(), np.empty(0))


def gate(**settings) -> RegionGate:
    s = MotionSettings(**settings)
    return RegionGate(s, MotionDetector(s), (W, H), INPUT)


def with_rect(x1, y1, x2, y2) -> np.ndarray:
    image = BACKGROUND.copy()
    image[y1:y2, x1:x2] = 255
    return image


def tracks(boxes) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(boxes, np.full(n, 0.9), np.zeros(n), np.arange(1, n + 1))


def looked(g: RegionGate, frames, tracked=NO_TRACKS) -> list[np.ndarray]:
    return [g.plan(g.sense(image), *tracked) for image in frames]


def test_disabled_gating_looks_at_the_full_frame_every_time():
    g = gate(enabled=False)
    for regions in looked(g, [BACKGROUND] * 12):
        np.testing.assert_allclose(regions, FULL)


def test_first_frame_is_full_then_static_frames_are_skipped_except_every_full_frame_every():
    g = gate(full_frame_every=5)
    plans = looked(g, [BACKGROUND] * 16)
    full = [i for i, r in enumerate(plans) if len(r)]
    assert full == [0, 5, 10, 15]
    for i in full:
        np.testing.assert_allclose(plans[i], FULL)
    assert all(r.shape == (0, 4) for i, r in enumerate(plans) if i not in full)


def test_default_schedule_is_every_tenth_frame():
    plans = looked(gate(), [BACKGROUND] * 21)
    assert [i for i, r in enumerate(plans) if len(r)] == [0, 10, 20]


def test_no_motion_and_only_stationary_tracks_skips_the_detector():
    g = gate()
    g.plan(g.sense(BACKGROUND), *NO_TRACKS)  # the first, full pass
    parked = (tracks([[300, 300, 500, 400]]), np.array([0.3]))  # under moving_speed 0.5
    for regions in looked(g, [BACKGROUND] * 5, parked):
        assert regions.shape == (0, 4)


def test_a_moving_track_is_looked_at_without_motion():
    g = gate()
    g.plan(g.sense(BACKGROUND), *NO_TRACKS)
    car = (tracks([[500, 600, 900, 640]]), np.array([4.0]))  # a long, low box moving
    regions = g.plan(g.sense(BACKGROUND), *car)
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0]
    # at least the box grown by track_margin (half its size) on every side
    assert x1 <= 300 and y1 <= 580 and x2 >= 1100 and y2 >= 660
    assert regions.tolist() != FULL
    assert y2 - y1 >= INPUT[1]


def test_compact_motion_gets_a_full_frame_pass_which_restarts_the_schedule():
    g = gate(full_frame_every=5)
    frames = [BACKGROUND] * 3 + [with_rect(900, 500, 940, 560)] + [BACKGROUND] * 9
    plans = looked(g, frames)
    full = [i for i, r in enumerate(plans) if len(r)]
    # 0: first; 3: motion (a crop would cost as much as the frame, which also re-checks
    # everything else), after which the 5-frame schedule restarts (a one-frame flash has
    # barely entered the background: no motion at 4)
    assert full == [0, 3, 8]
    for i in full:
        np.testing.assert_allclose(plans[i], FULL)


def test_a_band_of_motion_gets_one_crop_and_keeps_the_schedule():
    g = gate(full_frame_every=5)
    band = with_rect(200, 500, 1700, 530)
    plans = looked(g, [BACKGROUND, BACKGROUND, band, band, BACKGROUND, BACKGROUND])
    crop = plans[2]
    assert crop.shape == (1, 4) and crop.tolist() != FULL
    x1, y1, x2, y2 = crop[0]
    assert x1 <= 200 and x2 >= 1700 and y1 <= 500 and y2 >= 530
    assert x1 >= 0 and y1 >= 0 and x2 <= W and y2 <= H
    assert y2 - y1 == pytest.approx(INPUT[1])
    np.testing.assert_allclose(plans[5], FULL)  # frame 5 is still on the schedule


def test_regions_around_a_large_moving_track_stay_inside_the_frame():
    g = gate()
    g.plan(g.sense(BACKGROUND), *NO_TRACKS)
    person = (tracks([[800, 300, 1050, 950]]), np.array([3.0]))
    regions = g.plan(g.sense(BACKGROUND), *person)
    assert len(regions) == 1
    assert regions[0, 0] >= 0 and regions[0, 1] >= 0 and regions[0, 2] <= W and regions[0, 3] <= H
