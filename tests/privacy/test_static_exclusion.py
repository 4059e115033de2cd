"""A camera's static privacy polygons are left out of motion and detection: on the real clip
with the real model, nothing is detected and no motion found inside them, while the same run
without them finds people there."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vigil.config.privacy import PrivacySettings
from vigil.config.schema import VigilConfig
from vigil.pipeline.build import build_engine
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
