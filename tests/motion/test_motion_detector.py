"""MotionDetector: running-average background, boxes in full-frame pixels."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.motion.detector import MotionDetector, MotionSettings

H, W = 240, 320  # motion runs at 120 px high: a scale of 1/2
NOISE = np.random.default_rng(0).integers(60, 120, (H, W, 3), dtype=np.uint8)


def frame(square: tuple[int, int] | None = None, size: int = 24) -> np.ndarray:
    """Static noise with an optional bright square whose top-left corner is `square`."""
    image = NOISE.copy()
    if square is not None:
        x, y = square
        image[y : y + size, x : x + size] = 255
    return image


def test_first_frame_returns_no_boxes():
    boxes = MotionDetector().detect(frame((100, 80)))
    assert boxes.shape == (0, 4)


def test_static_frames_give_nothing():
    md = MotionDetector()
    for _ in range(10):
        assert md.detect(frame((100, 80))).shape == (0, 4)


def test_an_appearing_square_gives_one_box_around_it_in_full_frame_pixels():
    md = MotionDetector()
    md.detect(frame())
    boxes = md.detect(frame((100, 80)))
    assert boxes.shape == (1, 4)
    x1, y1, x2, y2 = boxes[0]
    # contains the square (100..124, 80..104) with at most the dilation's margin around it
    assert 88 <= x1 <= 100 and 68 <= y1 <= 80
    assert 124 <= x2 <= 136 and 104 <= y2 <= 116
    np.testing.assert_allclose(boxes[0], [90, 70, 134, 114], atol=4)


def test_a_moving_square_gives_a_box_that_follows_it():
    md = MotionDetector()
    md.detect(frame((60, 120)))
    for step in range(1, 8):
        x = 60 + 10 * step
        boxes = md.detect(frame((x, 120)))
        assert len(boxes) == 1, step
        x1, y1, x2, y2 = boxes[0]
        # the box holds the square now and where it came from (still in the background)
        assert x1 <= 60 and y1 <= 120 and x2 >= x + 24 and y2 >= 144
        assert x2 <= x + 24 + 12 and y1 >= 120 - 12 and y2 <= 144 + 12


def test_the_background_absorbs_a_change_that_stays():
    md = MotionDetector(MotionSettings(learning_rate=0.5))
    md.detect(frame())
    seen = [len(md.detect(frame((100, 80)))) for _ in range(10)]
    assert seen[0] == 1
    assert seen[-1] == 0  # the square became background


def test_min_area_filters_tiny_changes():
    small = MotionSettings(min_area=0.002)  # 38 motion pixels at 120×160
    big = MotionSettings(min_area=0.02)  # 384 motion pixels
    for settings, expected in ((small, 1), (big, 0)):
        md = MotionDetector(settings)
        md.detect(frame())
        assert len(md.detect(frame((150, 100), size=6))) == expected
        md = MotionDetector(settings)
        md.detect(frame())
        assert len(md.detect(frame((150, 100), size=40))) == 1


def test_changes_under_the_threshold_are_not_motion():
    md = MotionDetector()
    md.detect(frame())
    assert len(md.detect(np.clip(NOISE.astype(np.int16) + 15, 0, 255).astype(np.uint8))) == 0
    md = MotionDetector()
    md.detect(frame())
    assert len(md.detect(np.clip(NOISE.astype(np.int16) + 60, 0, 255).astype(np.uint8))) == 1


def test_two_separate_changes_give_two_boxes():
    md = MotionDetector()
    md.detect(frame())
    image = frame((30, 30))
    image[150:174, 250:274] = 255
    boxes = md.detect(image)
    assert len(boxes) == 2
    boxes = boxes[np.argsort(boxes[:, 0])]
    assert boxes[0, 0] < 30 and 54 < boxes[0, 2] < 250
    assert boxes[1, 0] < 250 and boxes[1, 2] > 274 and boxes[1, 1] < 150 and boxes[1, 3] > 174


def test_a_new_frame_shape_restarts_the_background():
    md = MotionDetector()
    md.detect(frame())
    assert md.detect(np.zeros((240, 480, 3), np.uint8)).shape == (0, 4)  # other aspect
    assert md.detect(np.zeros((240, 480, 3), np.uint8)).shape == (0, 4)


def test_settings_validation():
    with pytest.raises(ValidationError):
        MotionSettings(threshold=0)
    with pytest.raises(ValidationError):
        MotionSettings(min_area=1.0)
    with pytest.raises(ValidationError):
        MotionSettings(unknown=1)
