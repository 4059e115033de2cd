"""Decoders from raw YOLO output tensors to candidate boxes in network-input pixels.

Each decoder takes one image's output slice and returns `(xyxy, scores, class_ids)` for the
candidates whose score reaches the threshold, before NMS. All work is vectorised; the cheap
per-row maximum is used to discard most rows before anything else is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

STRIDES = (8, 16, 32)

DecoderName = Literal["auto", "yolox", "yolov8"]
Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]


def anchor_count(height: int, width: int) -> int:
    """Grid cells over strides 8/16/32 for a `height`×`width` input (3549 for 416×416)."""
    return sum(-(-height // s) * -(-width // s) for s in STRIDES)


def _empty() -> Candidates:
    return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64)


def _pick(scores: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Class-score columns restricted to `classes` (a view when there is no filter)."""
    return scores if classes is None else scores[:, classes]


class Decoder(Protocol):
    name: str
    num_classes: int

    def decode(
        self, out: np.ndarray, height: int, width: int, conf: float, classes: np.ndarray | None
    ) -> Candidates: ...


@dataclass(slots=True)
class YoloxDecoder:
    """YOLOX head output (A, 5 + nc): raw grid `cx, cy, w, h`, objectness, class probabilities."""

    num_classes: int
    name: str = "yolox"
    _grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    def grid(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell offsets (A, 2) and strides (A, 1) for an input size, cached per size."""
        key = (height, width)
        if key not in self._grids:
            cells, strides = [], []
            for s in STRIDES:
                ys, xs = np.mgrid[0 : -(-height // s), 0 : -(-width // s)]
                cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
                strides.append(np.full((xs.size, 1), s))
            self._grids[key] = (
                np.concatenate(cells).astype(np.float32),
                np.concatenate(strides).astype(np.float32),
            )
        return self._grids[key]

    def decode(
        self, out: np.ndarray, height: int, width: int, conf: float, classes: np.ndarray | None
    ) -> Candidates:
        # score = obj × cls ≤ obj, so rows with low objectness can never pass.
        rows_idx = np.flatnonzero(out[:, 4] >= conf)
        if rows_idx.size == 0:
            return _empty()
        rows = out[rows_idx]
        probs = _pick(rows[:, 5:], classes)
        best = probs.argmax(axis=1)
        scores = probs[np.arange(len(rows)), best] * rows[:, 4]
        ok = scores >= conf
        rows, rows_idx, best, scores = rows[ok], rows_idx[ok], best[ok], scores[ok]
        cells, strides = self.grid(height, width)
        stride = strides[rows_idx]
        xy = (rows[:, :2] + cells[rows_idx]) * stride
        half = np.exp(rows[:, 2:4]) * stride / 2
        xyxy = np.concatenate([xy - half, xy + half], axis=1)
        class_ids = best if classes is None else classes[best]
        return xyxy, scores, class_ids.astype(np.int64)


@dataclass(slots=True)
class Yolov8Decoder:
    """Ultralytics-style output (4 + nc, A), or (A, 4 + nc) when `transposed`.

    Boxes are `cx, cy, w, h` in input pixels; class scores are already sigmoid, no objectness.
    """

    num_classes: int
    transposed: bool = False
    name: str = "yolov8"

    def decode(
        self, out: np.ndarray, height: int, width: int, conf: float, classes: np.ndarray | None
    ) -> Candidates:
        rows = out if self.transposed else out.T  # (A, 4 + nc), a view
        probs = _pick(rows[:, 4:], classes)
        top = probs.max(axis=1)
        rows_idx = np.flatnonzero(top >= conf)
        if rows_idx.size == 0:
            return _empty()
        best = probs[rows_idx].argmax(axis=1)
        boxes = rows[rows_idx, :4]
        half = boxes[:, 2:] / 2
        xyxy = np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)
        class_ids = best if classes is None else classes[best]
        return xyxy, top[rows_idx], class_ids.astype(np.int64)


def choose_decoder(shape: tuple[int, ...], height: int, width: int, kind: DecoderName) -> Decoder:
    """Pick the decoder for an output `shape` seen on a `height`×`width` input.

    `auto`: (N, A, 85) → YOLOX with 80 classes; (N, 4 + nc, A) or (N, A, 84) → YOLOv8, where
    A = `anchor_count(height, width)`. Raises ValueError naming the shape seen and expected.
    """
    a = anchor_count(height, width)
    expected = {
        "yolox": f"[N, {a}, 5+classes] (YOLOX)",
        "yolov8": f"[N, 4+classes, {a}] or [N, {a}, 4+classes] (YOLOv8)",
    }
    rows, cols = (shape[1], shape[2]) if len(shape) == 3 else (-1, -1)
    if kind in ("auto", "yolox") and rows == a and (cols == 85 or (kind == "yolox" and cols > 5)):
        return YoloxDecoder(cols - 5)
    if kind in ("auto", "yolov8"):
        if cols == a and rows > 4:
            return Yolov8Decoder(rows - 4)
        if rows == a and (cols == 84 or (kind == "yolov8" and cols > 4)):
            return Yolov8Decoder(cols - 4, transposed=True)
    seen = f"output shape {list(shape)} for a {width}x{height} input"
    if kind == "auto" and rows == a and cols > 5:
        raise ValueError(f"{seen} could be YOLOX or YOLOv8; pass decoder='yolox' or 'yolov8'")
    want = " or ".join(expected.values()) if kind == "auto" else expected[kind]
    raise ValueError(f"{seen} does not match; expected {want}")
