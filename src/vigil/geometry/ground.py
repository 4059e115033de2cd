"""`GroundPlane`: image pixels → metres on a flat ground, from four point correspondences.

A calibrated zone has four corners in the image and the same four corners measured on the
ground (metres, any origin, x/y axes of the user's choosing). The homography between them
maps any image point on that ground plane — an object's bottom-centre anchor — to metres,
so distances and speeds are real ones whatever the camera's perspective. It is exact for a
flat ground and a camera without lens distortion; away from the calibrated quadrilateral
the error grows with any unevenness of the ground.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]

#: Four correspondences give exactly the eight unknowns of a homography (its ninth is 1).
CORNERS = 4


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3×3 homography H with ``dst ~ H @ src`` for four (x, y) pairs (direct linear
    transform); the caller has checked that no three points of either set are collinear."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs.extend([u, v])
    h = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def _collinear_triple(points: np.ndarray) -> bool:
    """Whether any three of the four points are (nearly) on one line."""
    scale = float(np.ptp(points, axis=0).max()) or 1.0
    for skip in range(CORNERS):
        a, b, c = np.delete(points, skip, axis=0)
        cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(cross) <= 1e-9 * scale * scale:
            return True
    return False


@dataclass(frozen=True)
class GroundPlane:
    """The mapping from image pixels to metres on the ground, built from `image` corners
    (pixels) and the same corners on the `ground` (metres), in the same order."""

    image: tuple[Point, ...]
    """Four image points, in pixels."""
    ground: tuple[Point, ...]
    """The same four points on the ground, in metres."""

    def __post_init__(self) -> None:
        image = np.asarray(self.image, dtype=np.float64).reshape(-1, 2)
        ground = np.asarray(self.ground, dtype=np.float64).reshape(-1, 2)
        if len(image) != CORNERS or len(ground) != CORNERS:
            raise ValueError(
                f"a ground calibration needs {CORNERS} image points and {CORNERS} ground "
                f"points, got {len(image)} and {len(ground)}"
            )
        if not np.isfinite(ground).all():
            raise ValueError("ground points must be finite numbers of metres")
        if _collinear_triple(ground):
            raise ValueError("three of the four ground points are in a line")
        if _collinear_triple(image):
            raise ValueError("three of the four image points are in a line")
        matrix = _homography(image, ground)
        object.__setattr__(self, "_matrix", matrix)
        # Points on the ground share the sign of the homogeneous w of the calibrated corners;
        # the other sign is beyond the horizon.
        centre = image.mean(axis=0)
        object.__setattr__(self, "_w_sign", np.sign(matrix[2, :2] @ centre + matrix[2, 2]))

    @property
    def matrix(self) -> np.ndarray:
        """The 3×3 homography from pixels to metres."""
        matrix: np.ndarray = self._matrix  # type: ignore[attr-defined]
        return matrix

    def to_metres(self, points: np.ndarray | Sequence[Point]) -> np.ndarray:
        """(N, 2) image points in pixels → (N, 2) ground points in metres (NaN stays NaN,
        and so does a point on or beyond the horizon)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        homogeneous = pts @ self.matrix[:, :2].T + self.matrix[:, 2]
        w = homogeneous[:, 2:]
        ahead = w * self._w_sign > 0  # type: ignore[attr-defined]
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = np.where(ahead, homogeneous[:, :2] / w, np.nan)
        return out
