"""``crowding``: at least ``min_count`` people close together.

Each frame, for every person (in the zone, if one is given) the app counts the people whose
anchors lie within ``radius`` of theirs (themselves included; scipy ``cKDTree``). ``radius``
is in multiples of the median box height of those people (default 1.5, scale invariant) or
in pixels (``radius_unit: px``). The densest neighbourhood is the crowd: its size and the
centroid of its anchors.

One long-lived ``crowding`` event at a time: ``start`` once a crowd of ≥ ``min_count`` has
been present for ``inertia`` frames and ``min_seconds``; ``end`` after ``inertia`` frames
without one (reason ``below``) or at end of stream. Attributes: ``count``, ``centroid``
``[x, y]`` and ``radius_px``; at the end ``max_count`` and ``duration`` too. Counters:
``crowd size`` (now) and ``max crowd``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from vigil.apps._common import Hysteresis, LevelEvent, ZoneApp, ZoneSettings, heights
from vigil.apps.base import FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event


class CrowdingSettings(ZoneSettings):
    min_count: int = Field(5, ge=2)
    radius: float = Field(1.5, gt=0)
    radius_unit: Literal["height", "px"] = "height"
    min_seconds: float = Field(0.0, ge=0)


def densest_group(anchors: np.ndarray, radius: float) -> np.ndarray:
    """Indices of the largest neighbourhood: the points within `radius` of the densest point."""
    if len(anchors) == 0:
        return np.empty(0, dtype=np.intp)
    from scipy.spatial import cKDTree  # imported lazily: scipy is slow to import

    tree = cKDTree(anchors)
    counts = tree.query_ball_point(anchors, r=radius, return_length=True)
    best = int(np.argmax(counts))
    return np.sort(np.asarray(tree.query_ball_point(anchors[best], r=radius), dtype=np.intp))


class Crowding(ZoneApp):
    kind: ClassVar[str] = "crowding"
    Settings = CrowdingSettings
    emits: ClassVar[tuple[str, ...]] = ("crowding",)

    def __init__(self, name: str, settings: CrowdingSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: CrowdingSettings = settings
        self._crowd = LevelEvent(
            self, "crowding", Hysteresis(settings.inertia, settings.inertia), settings.min_seconds
        )
        self._size = 0
        self._max = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        m = self.tracker.update_points(objs.tracker_id, objs.anchors, now)
        people = objs[m.state] if self.zone is not None else objs
        anchors = people.anchors.astype(np.float64)
        size, centroid, radius_px = 0, [0.0, 0.0], float(s.radius)
        if len(people) >= s.min_count:
            if s.radius_unit == "height":
                radius_px = float(s.radius * np.median(heights(people.xyxy)))
            group = densest_group(anchors, radius_px)
            size = len(group)
            c = anchors[group].mean(axis=0)
            centroid = [round(float(c[0]), 1), round(float(c[1]), 1)]
        crowded = size >= s.min_count
        self._size = size if crowded else 0
        self._max = max(self._max, self._size)
        return self._crowd.update(
            ctx,
            crowded,
            self._size,
            start_attributes={
                "count": size,
                "centroid": centroid,
                "radius_px": round(radius_px, 1),
            },
            can_start=crowded,
        )

    def finish(self, ctx: FrameContext) -> list[Event]:
        return self._crowd.finish(ctx)

    def counters(self) -> dict[str, float]:
        return {"crowd size": float(self._size), "max crowd": float(self._max)}
