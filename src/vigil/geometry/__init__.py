"""Geometry: zones and lines (pixels or normalised), vectorised membership, crossings, inertia.

- `Zone` / `Line`: validated shapes; ``to_pixels(width, height)`` resolves normalised ones.
- ``Zone.contains(points)``: (N, 2) → (N,) bool via a raster mask built once per frame size.
- ``Line.crossings(previous, current)``: vectorised segment test with direction (+1 in, -1 out).
- `TrackInertia` / `ZoneTracker`: per-track debounced membership (default 3 frames in, 3 out).
- `LineCrossingTracker`: per-track crossing counter robust to anchors jittering on the line.
- `TrackTable`: per-track numpy columns keyed by tracker id; `TrackVelocity`: per-track velocity.
- `GroundPlane`: pixels → metres on the ground for a calibrated zone (``Zone.ground``).
"""

from vigil.geometry.ground import GroundPlane
from vigil.geometry.shapes import Line, Zone, points_in_polygon, rasterize_polygon
from vigil.geometry.tracking import (
    CrossingUpdate,
    GroundSpeed,
    InertiaUpdate,
    LineCrossingTracker,
    LostTracks,
    TrackInertia,
    TrackTable,
    TrackVelocity,
    ZoneTracker,
)

__all__ = [
    "CrossingUpdate",
    "GroundPlane",
    "GroundSpeed",
    "InertiaUpdate",
    "Line",
    "LineCrossingTracker",
    "LostTracks",
    "TrackInertia",
    "TrackTable",
    "TrackVelocity",
    "Zone",
    "ZoneTracker",
    "points_in_polygon",
    "rasterize_polygon",
]
