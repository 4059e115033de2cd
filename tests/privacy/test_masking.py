"""Masking (`vigil.privacy.masking`): the masked pixels are unrecognisable on the real clip,
regions follow the policy (part, margin, keep), static polygons are burned in, and event
snapshots are masked at serve time from the boxes stored beside them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config.privacy import PrivacySettings
from vigil.detection.onnx_backend import OnnxDetector
from vigil.privacy.masking import (
    crop_region,
    mask_frame,
    mask_regions,
    mask_snapshot,
    mask_snapshot_crop,
    snapshot_boxes_path,
    snapshot_crop_path,
    static_mask,
    write_snapshot_boxes,
)

MODES = ("blur", "pixelate", "solid")


def sharpness(image: np.ndarray, box: np.ndarray) -> float:
    """Variance of the Laplacian inside `box` (x1, y1, x2, y2 pixels)."""
    x1, y1, x2, y2 = np.rint(box).astype(int)
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@pytest.fixture(scope="module")
def people(shared_model: Path, shared_clip: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame 60 of the real clip and the detector's person boxes in it."""
    capture = cv2.VideoCapture(str(shared_clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, frame = capture.read()
    capture.release()
    assert ok
    detector = OnnxDetector(shared_model, classes={0}, threads=1)
    boxes = detector.detect([frame])[0].xyxy
    assert len(boxes) >= 4  # PETS09: several pedestrians in view
    return frame, boxes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("part", ["box", "upper"])
def test_people_are_unrecognisable_on_the_real_clip(people, mode: str, part: str) -> None:
    frame, boxes = people
    settings = PrivacySettings(mask=["person"], mode=mode, part=part)
    masked = mask_frame(frame.copy(), boxes, settings)
    for box in boxes:
        measured = box.copy()
        if part == "upper":  # head and shoulders: what `upper` promises to hide
            measured[3] = box[1] + 0.4 * (box[3] - box[1])
        before, after = sharpness(frame, measured), sharpness(masked, measured)
        assert after <= 0.3 * before, (mode, part, box.tolist(), before, after)
    if part == "upper":  # the legs stay as they were
        x1, _, x2, y2 = np.rint(boxes[0]).astype(int)
        legs = (slice(int(y2) - 5, int(y2)), slice(x1, x2))
        assert np.array_equal(masked[legs], frame[legs])


def test_mask_frame_changes_only_the_padded_regions_and_honours_keep() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (200, 300, 3), np.uint8)
    boxes = np.array([[50, 40, 100, 140], [200, 20, 260, 80]], np.float32)
    settings = PrivacySettings(mask=["person"], mode="solid", margin=0.1)
    masked = mask_frame(image.copy(), boxes, settings, keep=np.array([False, True]))
    changed = np.any(masked != image, axis=2)
    ys, xs = np.nonzero(changed)
    # box 0 padded by 10 % of its width (5 px) and height (10 px); box 1 kept
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (45, 104, 30, 149)


def test_regions_are_clipped_and_empty_or_invalid_boxes_dropped() -> None:
    settings = PrivacySettings(mask=["person"], margin=0.5)
    boxes = np.array(
        [[-20, -20, 10, 10], [90, 90, 90, 95], [np.nan, 0, 5, 5], [310, 5, 320, 10]], np.float32
    )
    regions = mask_regions(boxes, settings, 100, 100)
    assert regions.tolist() == [[0, 0, 25, 25]]  # zero width, NaN and off-picture dropped


def test_static_polygons_are_burned_in_and_cached() -> None:
    settings = PrivacySettings(static=[{"points": [(0.5, 0.0), (1.0, 0.0), (1.0, 0.5)]}])
    mask = static_mask(settings, 200, 100)
    assert mask is not None and mask.shape == (100, 200) and not mask.flags.writeable
    assert static_mask(settings, 200, 100) is mask
    assert mask[5, 190] == 255 and mask[90, 10] == 0
    assert static_mask(PrivacySettings(), 200, 100) is None
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (100, 200, 3), np.uint8)
    masked = mask_frame(
        image.copy(), np.empty((0, 4)), settings.model_copy(update={"mode": "solid"}), mask
    )
    inside = mask.astype(bool)
    assert np.all(masked[inside] == 64)
    assert np.array_equal(masked[~inside], image[~inside])


def test_snapshot_is_masked_from_its_boxes_and_whole_without_them(people, tmp_path: Path) -> None:
    frame, boxes = people
    snapshot = tmp_path / "event.jpg"
    cv2.imwrite(str(snapshot), frame)
    classes = ["person"] * len(boxes)
    write_snapshot_boxes(snapshot, boxes, classes, list(range(len(boxes))), boxes[0])
    assert snapshot_boxes_path(snapshot) == tmp_path / "event.boxes.json"
    settings = PrivacySettings(mask=["person"], mode="pixelate")
    original = cv2.imread(str(snapshot))

    served = cv2.imdecode(np.frombuffer(mask_snapshot(snapshot, settings), np.uint8), 1)
    for box in boxes:
        assert sharpness(served, box) <= 0.3 * sharpness(original, box)

    kept = mask_snapshot(snapshot, settings, keep_box=boxes[0].tolist())
    kept_image = cv2.imdecode(np.frombuffer(kept, np.uint8), 1)
    assert sharpness(kept_image, boxes[0]) >= 0.7 * sharpness(original, boxes[0])
    assert sharpness(kept_image, boxes[1]) <= 0.3 * sharpness(original, boxes[1])

    unmasked_class = PrivacySettings(mask=["car"])
    plain = cv2.imdecode(np.frombuffer(mask_snapshot(snapshot, unmasked_class), np.uint8), 1)
    assert sharpness(plain, boxes[1]) >= 0.7 * sharpness(original, boxes[1])

    snapshot_boxes_path(snapshot).write_text("{not json")
    whole = cv2.imdecode(np.frombuffer(mask_snapshot(snapshot, settings), np.uint8), 1)
    full = np.array([0, 0, frame.shape[1], frame.shape[0]], np.float32)
    assert sharpness(whole, full) <= 0.3 * sharpness(original, full)


def test_a_crop_is_masked_as_its_part_of_the_masked_snapshot(people, tmp_path: Path) -> None:
    """The object crop served to a masked viewer is the masked snapshot's region: tracked
    objects and static polygons alike; unreadable placement or boxes: masked whole."""
    frame, boxes = people
    height, width = frame.shape[:2]
    region = crop_region(boxes[0], width, height)
    assert region is not None
    x1, y1, x2, y2 = region
    assert x1 <= boxes[0][0] and y1 <= boxes[0][1] and x2 >= boxes[0][2] and y2 >= boxes[0][3]
    snapshot = tmp_path / "event.jpg"
    cv2.imwrite(str(snapshot), frame)
    crop = snapshot_crop_path(snapshot)
    cv2.imwrite(str(crop), frame[y1:y2, x1:x2])
    classes = ["person"] * len(boxes)
    ids = list(range(len(boxes)))
    write_snapshot_boxes(snapshot, boxes, classes, ids, boxes[0], region, (width, height))
    settings = PrivacySettings.model_validate(
        {"mask": ["person"], "mode": "pixelate",
         "static": [{"points": [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]}]}
    )  # fmt: skip

    def decoded(jpeg: bytes) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)

    whole = decoded(mask_snapshot(snapshot, settings))[y1:y2, x1:x2].astype(int)
    served = decoded(mask_snapshot_crop(crop, snapshot_boxes_path(snapshot), settings))
    assert served.shape == whole.shape
    assert np.abs(served.astype(int) - whole).mean() < 4  # the same picture, but for JPEG
    own = boxes[0] - np.array([x1, y1, x1, y1], np.float32)
    original = cv2.imread(str(crop))
    assert sharpness(served, own) <= 0.3 * sharpness(original, own)

    record = snapshot_boxes_path(snapshot).read_text()
    snapshot_boxes_path(snapshot).write_text(record.replace('"crop"', '"lost"'))
    blind = decoded(mask_snapshot_crop(crop, snapshot_boxes_path(snapshot), settings))
    everything = np.array([0, 0, x2 - x1, y2 - y1], np.float32)
    assert sharpness(blind, everything) <= 0.3 * sharpness(original, everything)
    assert crop_region([width + 5, 0, width + 9, 9], width, height) is None


def test_masking_benchmark_runs_and_prints_every_mode(shared_clip: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "privacy_masking.py"
    run = subprocess.run(
        [sys.executable, str(script), str(shared_clip), "--repeat", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "baseline: unmasked JPEG encode" in run.stdout
    rows = re.findall(
        r"^(blur|pixelate|solid)\s+(box|upper)\s+[\d.]+\s+[\d.]+\s+[\d.]+", run.stdout, re.M
    )
    assert len(rows) == 6
    assert re.search(r"worst 20-box case [\d.]+ ms", run.stdout)


def test_overlapping_regions_are_masked_as_one_without_seams() -> None:
    settings = PrivacySettings(mask=["person"], margin=0.0)
    boxes = np.array(
        [[10, 10, 40, 80], [30, 20, 60, 90], [55, 85, 70, 99], [100, 10, 120, 50]], np.float32
    )
    # The first three overlap in a chain: one region; the fourth stands alone.
    assert mask_regions(boxes, settings, 200, 100).tolist() == [
        [10, 10, 70, 99],
        [100, 10, 120, 50],
    ]
