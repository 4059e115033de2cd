"""The real YOLOX-Nano on a real frame (skipped when ../shared is not checked out)."""

import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from vigil.detection.onnx_backend import OnnxDetector

# The data checkout beside the repository; VIGIL_SHARED_DIR overrides it as for the whole suite.
SHARED = Path(
    os.environ.get("VIGIL_SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared"
)
MODEL = SHARED / "models" / "yolox_nano.onnx"
CLIP = SHARED / "data" / "vtest.avi"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (MODEL.is_file() and CLIP.is_file()), reason="../shared model or clip absent"
    ),
]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    av = pytest.importorskip("av")
    with av.open(str(CLIP)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return OnnxDetector(MODEL, conf_threshold=0.3)


def test_finds_people_on_a_frame(detector: OnnxDetector, frame: np.ndarray):
    assert frame.shape == (576, 768, 3)
    assert detector.dynamic and detector.batch_dynamic  # the fixed export was patched
    (dets,) = detector.detect([frame])
    people = dets[dets.class_id == 0]
    assert len(people) >= 3
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    widths = people.xyxy[:, 2] - people.xyxy[:, 0]
    assert ((heights > 25) & (heights < 250)).all()  # pedestrians in a 576-pixel-high view
    assert (widths < heights).all()
    assert (
        (dets.xyxy >= 0).all()
        and (dets.xyxy[:, [0, 2]] <= 768).all()
        and (dets.xyxy[:, [1, 3]] <= 576).all()
    )


def test_crops_give_boxes_in_crop_coordinates(detector: OnnxDetector, frame: np.ndarray):
    (full,) = detector.detect([frame])
    people = full[full.class_id == 0]
    crops, offsets = [], []
    for x1, y1, x2, y2 in people.xyxy[:2].astype(int):
        left, top = max(0, x1 - 60), max(0, y1 - 60)
        crops.append(frame[top : min(576, y2 + 60), left : min(768, x2 + 60)])
        offsets.append(np.array([left, top, left, top], np.float32))
    results = detector.detect([frame, *crops])  # full frame and crops in one call
    np.testing.assert_allclose(results[0].xyxy, full.xyxy, atol=1e-3)
    for box, crop, offset, dets in zip(people.xyxy[:2], crops, offsets, results[1:], strict=True):
        in_crop = dets[dets.class_id == 0].xyxy
        h, w = crop.shape[:2]
        assert (in_crop[:, [0, 2]] <= w).all() and (in_crop[:, [1, 3]] <= h).all()
        assert max(iou(b, box - offset) for b in in_crop) > 0.6


def reference_yolox(frame: np.ndarray, conf: float, nms_iou: float) -> np.ndarray:
    """SOURCE.md followed literally on the unpatched 416x416 model: rows (x1, y1, x2, y2, score, class)."""
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    r = min(416 / frame.shape[1], 416 / frame.shape[0])
    resized = cv2.resize(frame, (round(frame.shape[1] * r), round(frame.shape[0] * r)))
    padded = np.full((416, 416, 3), 114, np.uint8)
    padded[: resized.shape[0], : resized.shape[1]] = resized
    out = session.run(None, {"images": padded.transpose(2, 0, 1)[None].astype(np.float32)})[0][0]
    grid, strides = [], []
    for s in (8, 16, 32):
        for gy in range(416 // s):
            for gx in range(416 // s):
                grid.append((gx, gy))
                strides.append(s)
    grid, strides = np.array(grid, np.float32), np.array(strides, np.float32)[:, None]
    xy = (out[:, :2] + grid) * strides
    wh = np.exp(out[:, 2:4]) * strides
    scores = out[:, 4:5] * out[:, 5:]
    cls = scores.argmax(1)
    best = scores.max(1)
    keep = best >= conf
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)[keep] / r
    best, cls = best[keep], cls[keep]
    rows = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        xywh = boxes[idx].copy()
        xywh[:, 2:] -= xywh[:, :2]
        for k in np.asarray(
            cv2.dnn.NMSBoxes(xywh.tolist(), best[idx].tolist(), conf, nms_iou)
        ).reshape(-1):
            rows.append([*boxes[idx[k]], best[idx[k]], c])
    return np.array(sorted(rows, key=lambda row: -row[4]))


def test_matches_reference_decode_at_416x416(frame: np.ndarray):
    # A square image letterboxes to the full 416x416 input, where the patched dynamic model
    # must reproduce the original fixed export decoded the reference way.
    square = cv2.resize(frame, (576, 576))
    expected = reference_yolox(square, 0.3, 0.45)
    (dets,) = OnnxDetector(MODEL, conf_threshold=0.3, nms_iou=0.45).detect([square])
    assert len(dets) == len(expected) >= 3
    np.testing.assert_allclose(dets.confidence, expected[:, 4], atol=1e-4)
    assert dets.class_id.tolist() == expected[:, 5].astype(int).tolist()
    np.testing.assert_allclose(dets.xyxy, np.clip(expected[:, :4], 0, 576), atol=1e-2)
