"""A camera's static privacy polygons are left out of motion and detection: on the real clip
with the real model, nothing is detected and no motion found inside them, while the same run
without them finds people there; a detection is left out by the share of its box inside
them, not by its centre."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vigil.config.privacy import PrivacySettings
from vigil.config.schema import VigilConfig
from vigil.detection.detections import Detections
from vigil.motion.detector import MotionDetector, MotionSettings
from vigil.pipeline.build import build_engine
from vigil.pipeline.gating import EXCLUDED_SHARE, RegionGate
from vigil.privacy.masking import static_mask
from vigil.sources.video import VideoSource

FRAMES = 60
LEFT = 384  # the polygon: the clip's left half (768 px wide)
DILATION_PX = 48  # how far the motion detector's dilation may reach past a moving edge


def run(shared_model: Path, shared_clip: Path, exclude: np.ndarray | None) -> tuple[list, list]:
    """Tracked objects seen on their frame, and motion boxes, over the clip's first frames."""
    config = VigilConfig.model_validate({"detector": {"model": str(shared_model)}})
    source = VideoSource(shared_clip)
    engine, _ = build_engine(config, (source.width, source.height), exclude=exclude)
    seen, motion = [], []
    for result in engine.run(itertools.islice(VideoSource(shared_clip), FRAMES)):
        objects = result.objects
        seen.extend(objects.xyxy[objects.confidence > 0].tolist())  # matched on this frame
        motion.extend(engine.gate.motion_boxes.tolist())
    return seen, motion


@pytest.fixture(scope="module")
def left_half() -> np.ndarray:
    settings = PrivacySettings(static=[{"points": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]}])
    mask = static_mask(settings, 768, 576)
    assert mask is not None and mask[:, :LEFT].all() and not mask[:, LEFT:].any()
    return mask


def test_static_polygons_are_left_out_of_motion_and_detection(
    shared_model: Path, shared_clip: Path, left_half: np.ndarray
) -> None:
    def centres_left(boxes: list) -> int:
        return sum((x1 + x2) / 2 < LEFT - 8 for x1, _, x2, _ in boxes)

    seen, motion = run(shared_model, shared_clip, None)
    assert centres_left(seen) >= 20 and sum(x1 < LEFT - DILATION_PX for x1, *_ in motion) >= 5

    seen, motion = run(shared_model, shared_clip, left_half)
    assert len(seen) >= 20  # people on the right still found
    assert centres_left(seen) == 0
    assert all(x1 >= LEFT - DILATION_PX for x1, *_ in motion), motion


def test_detections_are_left_out_by_their_share_inside_not_their_centre(
    left_half: np.ndarray,
) -> None:
    """A box half inside the polygons is left out (its centre on the edge was kept), one a
    thin polygon crosses through its middle is kept (its centre inside was dropped), one
    with a little of it inside is kept; those left out are kept for masking."""
    strip = left_half.copy()
    strip[:, :] = 0
    strip[:, 596:604] = 255  # a thin window-frame polygon
    motion = MotionSettings()
    gate = RegionGate(motion, MotionDetector(motion, left_half), (768, 576), (320, 320))
    boxes = Detections(
        xyxy=np.array(
            [
                [LEFT - 40, 100, LEFT + 40, 300],  # half inside
                [LEFT - 20, 100, LEFT + 60, 300],  # a quarter inside
                [500, 100, 700, 300],  # the strip through its middle
                [10, 10, 50, 90],  # wholly inside
            ],
            np.float32,
        ),
        confidence=np.full(4, 0.9, np.float32),
        class_id=np.zeros(4, np.int64),
    )
    assert EXCLUDED_SHARE == 0.5
    np.testing.assert_allclose(
        gate.excluded_share(boxes.xyxy, left_half), [0.5, 0.25, 0.0, 1.0], atol=1e-6
    )
    assert gate.admitted(boxes).xyxy[:, 0].tolist() == [LEFT - 20, 500]
    assert gate.excluded.xyxy[:, 0].tolist() == [LEFT - 40, 10]
    gate.motion.exclude = strip  # the polygons changed: the integral image follows
    assert gate.admitted(boxes).xyxy[:, 0].tolist() == [LEFT - 40, LEFT - 20, 500, 10]
    assert len(gate.excluded) == 0
