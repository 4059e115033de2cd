"""Where the detector looks: crops around motion and live tracks, or the whole frame.

Crops are at least the detector's input size in frame pixels, so inside a crop objects are
seen at up to full resolution (the whole frame is shrunk to fit the input). Inference cost
grows with the pixels fed to the model, so when the crops would cost as much as the whole
frame, one full-frame pass is planned instead.
"""

from __future__ import annotations

import numpy as np


def expand_to_min_size(
    boxes: np.ndarray, min_w: float, min_h: float, width: int, height: int
) -> np.ndarray:
    """Grow boxes about their centres to at least (min_w, min_h), shifted to stay in frame."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4).astype(np.float32)
    frame = np.array([width, height], np.float32)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.clip(boxes[:, 2:] - boxes[:, :2], np.minimum([min_w, min_h], frame), frame)
    lo = np.clip(centre - size / 2, 0, frame - size)
    return np.concatenate([lo, lo + size], axis=1).astype(np.float32)


def merge_overlapping(boxes: np.ndarray) -> np.ndarray:
    """Union boxes that overlap until none do (few boxes per frame, so a simple fixpoint)."""
    rows: list[np.ndarray] = list(boxes.astype(np.float32))
    merged = True
    while merged and len(rows) > 1:
        merged = False
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i], rows[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rows[i] = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])
                    del rows[j]
                    merged = True
                    break
            if merged:
                break
    return np.array(rows, np.float32).reshape(-1, 4)


def plan_regions(
    interest: np.ndarray,
    frame_size: tuple[int, int],
    crop_size: tuple[int, int],
    max_regions: int,
) -> np.ndarray:
    """Crops (R, 4) to run the detector on, given boxes of interest (motion, live tracks).

    `crop_size` (w, h) is the detector input that the whole frame is letterboxed to; crops are
    at least that size and larger ones are shrunk to fit it, so a crop is never seen at a lower
    resolution than the whole frame. Returns an empty array when nothing is of interest, and
    the whole frame unless the crops together cost less than one full-frame pass: at equal
    cost the whole frame also re-checks everything that is not moving.
    """
    width, height = frame_size
    full = np.array([[0, 0, width, height]], np.float32)
    if len(interest) == 0:
        return np.empty((0, 4), np.float32)
    crop_w, crop_h = crop_size
    crops = interest
    # Growing crops can make them overlap: repeat until stable.
    for _ in range(4):
        grown = merge_overlapping(expand_to_min_size(crops, crop_w, crop_h, width, height))
        if len(grown) == len(crops) and np.allclose(grown, crops):
            break
        crops = grown
    size = crops[:, 2:] - crops[:, :2]
    scale = np.minimum(1.0, np.minimum(crop_w / size[:, 0], crop_h / size[:, 1]))
    cost = float(np.sum(size[:, 0] * size[:, 1] * scale**2))
    if len(crops) > max_regions or cost >= crop_w * crop_h * 0.999:
        return full
    return crops
