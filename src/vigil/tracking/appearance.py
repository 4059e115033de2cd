"""Anonymous appearance cue for association: colour histograms of a box's upper and lower half.

Two people walking side by side have overlapping boxes, so overlap alone swaps them; their
clothing colours usually differ. The descriptor is a hue/saturation histogram per half-box,
square-rooted so that a dot product is the Bhattacharyya coefficient. It says nothing about
who a person is and is discarded with the track.
"""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS, SAT_BINS = 16, 4
DESCRIPTOR_SIZE = 2 * HUE_BINS * SAT_BINS


def describe(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(N, DESCRIPTOR_SIZE) unit-norm descriptors of the boxes in a BGR image."""
    out = np.zeros((len(xyxy), DESCRIPTOR_SIZE), np.float32)
    if len(xyxy) == 0:
        return out
    # Colour histograms lose nothing at half resolution. Only the pixels around the boxes
    # are halved and converted to HSV: the same values as from the whole frame, for a
    # fraction of its cost.
    height, width = image.shape[:2]
    h, w = (height + 1) // 2, (width + 1) // 2  # the size of cv2.pyrDown(image)
    boxes = xyxy.astype(np.float32) * np.array([w / width, h / height] * 2, np.float32)
    # Shrink each box towards its centre line: the edges are mostly background.
    box_width = boxes[:, 2] - boxes[:, 0]
    boxes[:, 0] += 0.2 * box_width
    boxes[:, 2] -= 0.2 * box_width
    boxes = np.round(boxes).astype(np.int64)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if x2 - x1 < 2 or y2 - y1 < 4:
            continue
        hsv = _half_size_hsv(image, x1, y1, x2, y2)
        mid = (y2 - y1) // 2
        for half, part in enumerate((hsv[:mid], hsv[mid:])):
            hist = cv2.calcHist([part], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256])
            out[i, half * HUE_BINS * SAT_BINS : (half + 1) * HUE_BINS * SAT_BINS] = hist.ravel()
    out = np.sqrt(out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def _half_size_hsv(image: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """`cv2.cvtColor(cv2.pyrDown(image), cv2.COLOR_BGR2HSV)[y1:y2, x1:x2]`, computed from the
    pixels that its 5×5 kernel reaches: a margin of 2 full-size pixels each side (the
    picture's own edge, where it is nearer, is bordered as on the whole frame)."""
    height, width = image.shape[:2]
    top, left = max(0, 2 * y1 - 2), max(0, 2 * x1 - 2)  # even, so halving stays aligned
    bottom, right = min(height, 2 * y2 + 1), min(width, 2 * x2 + 1)
    half = cv2.pyrDown(image[top:bottom, left:right])
    y, x = (top // 2, left // 2)
    return cv2.cvtColor(half[y1 - y : y2 - y, x1 - x : x2 - x], cv2.COLOR_BGR2HSV)


def described(descriptors: np.ndarray) -> np.ndarray:
    """Which descriptors hold a look at all (boxes too small or off-image give zeros)."""
    return np.asarray(descriptors.any(axis=1))


def distance(tracks: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """(T, D) × (N, D) unit descriptors → (T, N) distances in [0, 1]."""
    if len(tracks) == 0 or len(detections) == 0:
        return np.ones((len(tracks), len(detections)))
    return np.clip(1.0 - tracks @ detections.T, 0.0, 1.0)
