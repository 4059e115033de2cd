"""Batched constant-velocity Kalman filter over box state (cx, cy, w, h, vcx, vcy, vw, vh).

Noise scales with box size (as in BoT-SORT), so near and far objects are treated alike.
All operations act on every track at once: means (T, 8), covariances (T, 8, 8).
"""

from __future__ import annotations

import numpy as np

_F = np.eye(8, dtype=np.float64)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8, dtype=np.float64)


class BoxKalman:
    def __init__(self, position_weight: float = 1 / 20, velocity_weight: float = 1 / 160):
        self.position_weight = position_weight
        self.velocity_weight = velocity_weight

    def _size_scale(self, wh: np.ndarray) -> np.ndarray:
        """(N, 2) widths/heights → (N, 4) per-coordinate scale [w, h, w, h]."""
        return np.concatenate([wh, wh], axis=1)

    def initiate(self, cxcywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(cxcywh)
        mean = np.zeros((n, 8))
        mean[:, :4] = cxcywh
        scale = self._size_scale(cxcywh[:, 2:4])
        std = np.concatenate(
            [2 * self.position_weight * scale, 10 * self.velocity_weight * scale], axis=1
        )
        cov = np.zeros((n, 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(mean) == 0:
            return mean, cov
        scale = self._size_scale(mean[:, 2:4])
        std = np.concatenate([self.position_weight * scale, self.velocity_weight * scale], axis=1)
        mean = mean @ _F.T
        cov = _F @ cov @ _F.T
        idx = np.arange(8)
        cov[:, idx, idx] += std**2
        return mean, cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct each (mean, cov) with its measured (cx, cy, w, h)."""
        if len(mean) == 0:
            return mean, cov
        scale = self._size_scale(mean[:, 2:4])
        r = (self.position_weight * scale) ** 2
        projected_cov = cov[:, :4, :4].copy()
        idx = np.arange(4)
        projected_cov[:, idx, idx] += r
        cross = cov[:, :, :4]  # P Hᵀ
        gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
        innovation = measurement - mean[:, :4]
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        cov = cov - gain @ cross.transpose(0, 2, 1)
        return mean, cov


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1)


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
