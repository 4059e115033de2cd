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

from vigil.apps._common import Hysteresis, OpenEvent, TrackedSettings, heights, round_s
from vigil.apps.base import App, FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.tracking import ZoneTracker


class CrowdingSettings(TrackedSettings):
    zone: str | None = None
    classes: list[str | int] = Field(default_factory=lambda: ["person"])
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


class Crowding(App):
    kind: ClassVar[str] = "crowding"
    Settings = CrowdingSettings
    emits: ClassVar[tuple[str, ...]] = ("crowding",)

    def __init__(self, name: str, settings: CrowdingSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: CrowdingSettings = settings
        self.zone = scene.zone(settings.zone) if settings.zone is not None else None
        self.class_ids = scene.class_ids(settings.classes)
        self.tracker = ZoneTracker(
            self.zone, settings.inertia, settings.inertia, forget_after=settings.lost_timeout
        )
        self._crowd = Hysteresis(settings.inertia, settings.inertia)
        self._open: OpenEvent | None = None
        self._size = 0
        self._max = 0

    @property
    def _zone_name(self) -> str | None:
        return None if self.zone is None else self.zone.name

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
        self._crowd.update(crowded, now)
        events: list[Event] = []
        if self._open is not None:
            self._open.extra["max_count"] = max(self._open.extra["max_count"], self._size)
            if not self._crowd.state:
                events.append(self._end(ctx, now, "below"))
        elif self._crowd.state and crowded and now - self._crowd.since >= s.min_seconds - 1e-9:
            ev = self.event(
                ctx,
                "crowding",
                "start",
                zone=self._zone_name,
                attributes={"count": size, "centroid": centroid, "radius_px": round(radius_px, 1)},
            )
            self._open = OpenEvent(ev.id, now, extra={"max_count": size})
            events.append(ev)
        return events

    def _end(self, ctx: FrameContext, end_time: float, reason: str) -> Event:
        oe, self._open = self._open, None
        assert oe is not None
        return self.event(
            ctx,
            "crowding",
            "end",
            start_time=oe.start_time,
            end_time=end_time,
            zone=self._zone_name,
            attributes={
                "max_count": oe.extra["max_count"],
                "duration": round_s(end_time - oe.start_time),
                "reason": reason,
            },
            id=oe.id,
        )

    def finish(self, ctx: FrameContext) -> list[Event]:
        return [] if self._open is None else [self._end(ctx, ctx.pts, "end_of_stream")]

    def counters(self) -> dict[str, float]:
        return {"crowd size": float(self._size), "max crowd": float(self._max)}
