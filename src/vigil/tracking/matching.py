"""Cost matrices and assignment for track ↔ detection association."""

from __future__ import annotations

import lap
import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching keeping pairs with cost ≤ max_cost.

    Returns (matches (K, 2) of [row, col], unmatched rows, unmatched cols).
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return np.empty((0, 2), dtype=np.int64), np.arange(rows), np.arange(cols)
    # Forbid pairs over the gate so the solver never trades a good pair for a forbidden one.
    gated = np.where(cost <= max_cost, cost, max_cost + 1e5)
    # Jonker-Volgenant (lapx): SciPy's solver costs a second of start-up to import.
    r, c = lap.lapjvx(gated, extend_cost=True, return_cost=False)
    ok = gated[r, c] <= max_cost
    matches = np.stack([r[ok], c[ok]], axis=1)
    unmatched_rows = np.setdiff1d(np.arange(rows), matches[:, 0], assume_unique=True)
    unmatched_cols = np.setdiff1d(np.arange(cols), matches[:, 1], assume_unique=True)
    return matches, unmatched_rows, unmatched_cols
