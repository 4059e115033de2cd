"""`Zone` (a polygon) and `Line` (a directed segment), in pixels or normalised 0–1 coordinates.

Coordinates are image coordinates: x grows to the right, y grows *downwards*, origin at the
top-left corner. A shape is either in pixels or normalised (0–1 of the frame width/height):
pass ``normalized=True``/``False``, or leave it ``None`` to decide automatically — every
coordinate within ``[-1, 1]`` means normalised. (So a pixel zone wholly inside the top-left
1×1 pixel must say ``normalized=False``.) ``to_pixels(width, height)`` resolves a shape for a
frame size; only pixel shapes answer geometric questions.

Validation errors are `ValueError`s with short, one-line messages (the config layer prefixes
the key path), e.g. ``polygon needs at least 3 points, got 2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from shapely.geometry import Polygon

from vigil.geometry.ground import CORNERS, GroundPlane

Point = tuple[float, float]
"""An ``(x, y)`` point, in pixels or normalised 0–1."""


def _as_point(value: Any, what: str) -> Point:
    try:
        x, y = value
        point = (float(x), float(y))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair [x, y], got {value!r}") from None
    if not all(math.isfinite(c) for c in point):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return point


def _auto_normalized(coords: Sequence[Point], normalized: bool | None) -> bool:
    """All coordinates within 0..1 mean normalised; fractions beside pixel values are a mistake."""
    if normalized is not None:
        return bool(normalized)
    values = [c for p in coords for c in p]
    if all(abs(c) <= 1.0 for c in values):
        return True
    if any(0.0 < abs(c) < 1.0 for c in values):
        shown = [[int(c) if float(c).is_integer() else c for c in p] for p in coords]
        raise ValueError(
            "mixes normalised (0..1) and pixel coordinates: use all-normalised or all-pixel, "
            f"got {shown}"
        )
    return False


def _check_frame_size(width: int, height: int) -> tuple[int, int]:
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    return int(width), int(height)


# --------------------------------------------------------------------------- polygons


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Exact even-odd point-in-polygon test, vectorised: (N, 2) points, (V, 2) vertices → (N,) bool.

    O(N·V) numpy; boundary points may fall either way. `Zone.contains` uses a raster mask
    instead when the frame size is known.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    x, y = pts[:, :1], pts[:, 1:]  # (N, 1)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddle = (y0 > y) != (y1 > y)  # (N, V), half-open in y
    dy = np.where(y1 == y0, 1.0, y1 - y0)
    x_cross = x0 + (y - y0) * (x1 - x0) / dy
    inside: np.ndarray = ((straddle & (x < x_cross)).sum(axis=1) % 2) == 1
    return inside


def rasterize_polygon(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boolean (height, width) mask of the pixels whose centre lies inside `polygon` (even-odd rule).

    Pure numpy scanline fill: O(H·V + H·W), done once per zone and frame size.
    """
    width, height = _check_frame_size(width, height)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    yc = np.arange(height, dtype=np.float64)[:, None] + 0.5  # (H, 1) pixel-centre rows
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddle = (y0 > yc) != (y1 > yc)  # (H, V)
    dy = np.where(y1 == y0, 1.0, y1 - y0)
    x_cross = x0 + (yc - y0) * (x1 - x0) / dy
    rows, edges = np.nonzero(straddle)
    # pixel column c is right of a crossing at x when c + 0.5 > x  <=>  c >= floor(x - 0.5) + 1
    cols = np.clip(np.floor(x_cross[rows, edges] - 0.5).astype(np.int64) + 1, 0, width)
    toggles = np.bincount(rows * (width + 1) + cols, minlength=height * (width + 1))
    parity = np.cumsum(toggles.reshape(height, width + 1), axis=1) & 1
    return parity[:, :width].astype(bool)


@dataclass(frozen=True)
class Zone:
    """A named polygon.

    ``points`` are ≥ 3 vertices ``[(x, y), ...]`` (closing vertex optional), in pixels or
    normalised 0–1 (see the module docstring). ``frame_size`` is set by ``to_pixels`` and
    enables the fast raster-mask membership test.
    """

    name: str
    """The zone's name, unique in a scene."""
    points: tuple[Point, ...]
    """Its vertices (the closing vertex dropped)."""
    normalized: bool | None = None
    """Whether `points` are normalised 0–1 (None: decided from the values)."""
    frame_size: tuple[int, int] | None = None
    """``(width, height)`` of the frame a pixel zone belongs to (set by `to_pixels`)."""
    ground: tuple[Point, ...] | None = None
    """A calibrated zone's four corners measured on the ground, in metres, in the order of
    `points` (see `ground_plane`); None when the zone is not calibrated."""
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw = list(self.points) if self.points is not None else []
        pts = [_as_point(p, f"point {i}") for i, p in enumerate(raw)]
        if len(pts) >= 2 and pts[0] == pts[-1]:
            pts = pts[:-1]  # explicitly closed ring
        if len(pts) < 3:
            raise ValueError(f"polygon needs at least 3 points, got {len(pts)}")
        # Imported here: only zones need shapely, and a scene without any (`vigil run` with
        # no apps) need not load it.
        from shapely.geometry import Polygon
        from shapely.validation import explain_validity

        polygon = Polygon(pts)
        if polygon.convex_hull.area <= 0.0:
            raise ValueError("polygon has zero area (points are collinear)")
        if not polygon.is_valid:
            reason = explain_validity(polygon)
            if reason.startswith("Self-intersection"):
                xy = reason[reason.find("[") + 1 : reason.find("]")].split()
                at = ", ".join(f"{float(c):g}" for c in xy)
                raise ValueError(f"polygon is self-intersecting at ({at})")
            raise ValueError(f"invalid polygon: {reason}")
        normalized = _auto_normalized(pts, self.normalized)
        if self.frame_size is not None:
            if normalized:
                raise ValueError("a normalised zone cannot have a frame_size; use to_pixels()")
            object.__setattr__(self, "frame_size", _check_frame_size(*self.frame_size))
        if self.ground is not None:
            ground = tuple(_as_point(p, f"ground point {i}") for i, p in enumerate(self.ground))
            if len(pts) != CORNERS or len(ground) != CORNERS:
                raise ValueError(
                    f"a calibrated zone has {CORNERS} points and {CORNERS} ground points, "
                    f"got {len(pts)} and {len(ground)}"
                )
            GroundPlane(tuple(pts), ground)  # the calibration itself must be valid
            object.__setattr__(self, "ground", ground)
        object.__setattr__(self, "points", tuple(pts))
        object.__setattr__(self, "normalized", normalized)

    # -- conversions ------------------------------------------------------------------
    def to_pixels(self, width: int, height: int) -> Zone:
        """This zone in pixel coordinates for a `width`×`height` frame (mask-enabled)."""
        width, height = _check_frame_size(width, height)
        if self.normalized:
            pts = tuple((x * width, y * height) for x, y in self.points)
        else:
            pts = self.points
        return Zone(
            self.name, pts, normalized=False, frame_size=(width, height), ground=self.ground
        )

    @property
    def vertices(self) -> np.ndarray:
        """(V, 2) float64 vertices."""
        return np.asarray(self.points, dtype=np.float64)

    @property
    def polygon(self) -> Polygon:
        """The zone as a shapely `Polygon`."""
        from shapely.geometry import Polygon

        return Polygon(self.points)

    @property
    def area(self) -> float:
        """Area in square units of `points` (pixels, or a fraction of the frame)."""
        return float(self.polygon.area)

    def ground_plane(self) -> GroundPlane | None:
        """The pixels → metres mapping of a calibrated zone (None if not calibrated); the
        zone must be in pixels (`to_pixels`)."""
        if self.ground is None:
            return None
        if self.normalized:
            raise ValueError(f"zone {self.name!r} has normalised coordinates; call to_pixels()")
        plane = self._cache.get("ground")
        if plane is None:
            plane = self._cache["ground"] = GroundPlane(self.points, self.ground)
        return plane

    def mask(self) -> np.ndarray:
        """Boolean (height, width) raster of the zone, computed once and cached."""
        if self.frame_size is None:
            raise ValueError(f"zone {self.name!r} has no frame size; call to_pixels(width, height)")
        mask = self._cache.get("mask")
        if mask is None:
            mask = rasterize_polygon(self.vertices, *self.frame_size)
            mask.setflags(write=False)
            self._cache["mask"] = mask
        return mask

    # -- membership -------------------------------------------------------------------
    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) pixel points → (N,) bool, True where the point lies in the zone.

        With a frame size (after ``to_pixels``) this is a raster lookup ``mask[y, x]`` on the
        pixel containing each point; points outside the frame are clipped to the nearest edge
        pixel (an anchor at ``y == height`` is the bottom row). Without a frame size it is an
        exact even-odd test. NaN points are outside.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.frame_size is None:
            if self.normalized:
                raise ValueError(
                    f"zone {self.name!r} has normalised coordinates; call to_pixels(width, height)"
                )
            return points_in_polygon(pts, self.vertices)
        width, height = self.frame_size
        finite = np.isfinite(pts[:, 0]) & np.isfinite(pts[:, 1])
        safe = np.where(finite[:, None], pts, 0.0)
        xs = np.clip(np.floor(safe[:, 0]), 0, width - 1).astype(np.intp)
        ys = np.clip(np.floor(safe[:, 1]), 0, height - 1).astype(np.intp)
        return self.mask()[ys, xs] & finite


# --------------------------------------------------------------------------- lines


def _orient(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Cross product (b - a) × (p - a), broadcast over leading axes."""
    cross: np.ndarray = (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (
        b[..., 1] - a[..., 1]
    ) * (p[..., 0] - a[..., 0])
    return cross


@dataclass(frozen=True)
class Line:
    """A named, directed line segment ``start → end``.

    Direction semantics (image coordinates, y down): the *right* side of the line is the
    right-hand side of someone walking on the image from ``start`` to ``end`` — the side
    where the cross product ``(end - start) × (p - start)`` is positive. A crossing from the
    left side to the right side is ``"in"`` (+1), right → left is ``"out"`` (-1). Example:
    a horizontal line drawn left to right (``start=(0, 100)``, ``end=(100, 100)``) counts
    objects moving *down* the image as ``in``. ``invert=True`` swaps in and out.
    """

    name: str
    """The line's name, unique in a scene."""
    start: Point
    """Where the line starts (its direction is ``start → end``)."""
    end: Point
    """Where the line ends."""
    normalized: bool | None = None
    """Whether the ends are normalised 0–1 (None: decided from the values)."""
    invert: bool = False
    """Swap ``in`` and ``out``."""

    def __post_init__(self) -> None:
        start = _as_point(self.start, "line start")
        end = _as_point(self.end, "line end")
        if start == end:
            shown = [int(c) if float(c).is_integer() else c for c in end]
            raise ValueError(f"line has zero length: start and end are both {shown}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "normalized", _auto_normalized([start, end], self.normalized))
        object.__setattr__(self, "invert", bool(self.invert))

    def to_pixels(self, width: int, height: int) -> Line:
        """This line in pixel coordinates for a `width`×`height` frame."""
        width, height = _check_frame_size(width, height)
        if not self.normalized:
            return Line(self.name, self.start, self.end, normalized=False, invert=self.invert)
        (x0, y0), (x1, y1) = self.start, self.end
        return Line(
            self.name,
            (x0 * width, y0 * height),
            (x1 * width, y1 * height),
            normalized=False,
            invert=self.invert,
        )

    @property
    def length(self) -> float:
        """Length in units of the ends (pixels, or a fraction of the frame)."""
        return math.dist(self.start, self.end)

    def _pixel_ends(self) -> tuple[np.ndarray, np.ndarray]:
        if self.normalized:
            raise ValueError(
                f"line {self.name!r} has normalised coordinates; call to_pixels(width, height)"
            )
        return np.asarray(self.start, np.float64), np.asarray(self.end, np.float64)

    def side(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points → (N,) int8: +1 on the right side (or exactly on the line), -1 on the left.

        The half-open convention (on the line counts as right) means a track that steps onto
        the line and then across is counted exactly once.
        """
        a, b = self._pixel_ends()
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        s = np.where(_orient(a, b, pts) >= 0.0, 1, -1).astype(np.int8)
        if self.invert:
            s = -s
        return s

    def crossings(self, previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised crossing test of the moves ``previous[i] → current[i]`` (both (N, 2)).

        Returns ``(crossed, direction)``: (N,) bool and (N,) int8 with +1 for ``in``
        (left → right, see the class docstring), -1 for ``out`` and 0 where not crossed.
        A move crosses when its end points are on different sides and the crossing point lies
        within the segment (touching an end point counts). Rows with NaN never cross.
        """
        a, b = self._pixel_ends()
        p = np.asarray(previous, dtype=np.float64).reshape(-1, 2)
        q = np.asarray(current, dtype=np.float64).reshape(-1, 2)
        if len(p) != len(q):
            raise ValueError(f"previous and current differ in length: {len(p)} vs {len(q)}")
        finite = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
        sp, sq = self.side(p), self.side(q)
        oa = _orient(p, q, a)
        ob = _orient(p, q, b)
        crossed = finite & (sp != sq) & (oa * ob <= 0.0)
        direction = np.where(crossed, sq, 0).astype(np.int8)
        return crossed, direction
