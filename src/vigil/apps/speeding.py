"""``speeding``: objects moving faster than a limit (km/h) through a calibrated zone.

The zone must be calibrated: its four corners measured on the ground in metres (the zone's
``ground`` in the configuration, see `vigil.geometry.ground.GroundPlane`). Each track's
ground point (bottom-centre anchor mapped to metres) gives its speed over the last
``window`` seconds. A track inside the zone (with inertia) above its class's limit for
``min_seconds`` emits one ``instant`` ``speeding`` event per passage through the zone, with
``attributes={"speed_kmh": its speed then, "limit_kmh": the limit}``. The limit is ``limit``
km/h, or ``limits[class]`` for a class named there.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from vigil.apps._common import VEHICLES, ZoneApp, ZoneSettings
from vigil.apps.base import ClassName, FrameContext, Scene, ZoneName
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.ground import GroundPlane
from vigil.geometry.tracking import GroundSpeed, TrackTable


class SpeedingSettings(ZoneSettings):
    zone: ZoneName  # required here: it carries the calibration
    classes: list[ClassName] = Field(default_factory=VEHICLES.copy)
    limit: float = Field(50.0, gt=0, description="km/h")
    limits: dict[str, float] = Field(
        default_factory=dict, description="km/h per class name, overriding `limit`"
    )
    min_seconds: float = Field(0.5, ge=0, description="above the limit this long to count")
    window: float = Field(1.0, gt=0, description="seconds over which a speed is measured")


def calibrated_plane(scene: Scene, zone: str) -> GroundPlane:
    """The ground plane of the scene's calibrated zone `zone`; ValueError naming the zone if
    it has no calibration."""
    plane = scene.zone(zone).ground_plane()
    if plane is None:
        raise ValueError(
            f"zone {zone!r} is not calibrated: give its four points measured on the ground "
            f"in metres (zones.{zone}.ground)"
        )
    return plane


class Speeding(ZoneApp):
    kind: ClassVar[str] = "speeding"
    Settings = SpeedingSettings
    emits: ClassVar[tuple[str, ...]] = ("speeding",)

    def __init__(self, name: str, settings: SpeedingSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: SpeedingSettings = settings
        self._limit_by_class = np.full(max(len(scene.class_names), 1), settings.limit)
        for cls, limit in settings.limits.items():
            if not limit > 0:
                raise ValueError(f"limits.{cls} must be > 0 km/h, got {limit}")
            (class_id,) = scene.class_ids([cls])  # type: ignore[misc]  # ValueError if unknown
            if class_id >= len(self._limit_by_class):
                extra = class_id + 1 - len(self._limit_by_class)
                self._limit_by_class = np.pad(
                    self._limit_by_class, (0, extra), constant_values=settings.limit
                )
            self._limit_by_class[class_id] = limit
        self._speed = GroundSpeed(calibrated_plane(scene, settings.zone), settings.window)
        self._state = TrackTable(over_since=(np.float64, np.nan), fired=(bool, False))
        self._total = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        anchors = objs.anchors.astype(np.float64)
        membership = self.tracker.update_points(ids, anchors, now)
        if len(membership.lost.ids):
            self._speed.discard(membership.lost.ids)
            self._state.discard(membership.lost.ids)
        speed = self._speed.update(ids, anchors, now)
        class_ids = np.clip(objs.class_id.astype(np.intp), 0, len(self._limit_by_class) - 1)
        limit = self._limit_by_class[class_ids]
        over = membership.state & (speed > limit)  # NaN compares False

        rows, _ = self._state.slots(ids)
        fired = self._state["fired"]
        fired[rows[membership.exited]] = False  # a new passage may be reported again
        since = self._state["over_since"][rows]
        since = np.where(over, np.where(np.isnan(since), now, since), np.nan)
        self._state["over_since"][rows] = since
        fire = over & ~fired[rows] & (now - since >= self.settings.min_seconds - 1e-9)
        fired[rows[fire]] = True
        events = [
            self.event(
                ctx,
                "speeding",
                track_id=int(ids[i]),
                class_id=int(objs.class_id[i]),
                zone=self.zone.name if self.zone is not None else None,
                attributes={
                    "speed_kmh": round(float(speed[i]), 1),
                    "limit_kmh": float(limit[i]),
                },
            )
            for i in np.flatnonzero(fire)
        ]
        self._total += len(events)
        return events

    def counters(self) -> dict[str, float]:
        return {"speeding": float(self._total)}
