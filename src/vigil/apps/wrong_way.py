"""``wrong_way``: objects moving against the allowed direction (e.g. a car driving the wrong way).

The allowed direction is a vector ``direction: [dx, dy]`` or an ``angle`` in degrees, both
in image coordinates (x right, y *down*: angle 0 = right, 90 = down, 180 = left, 270 = up).
Each track's velocity is its anchor displacement over the last ``window`` seconds (default
1 s, from a short per-track history). A track is going the wrong way while it is inside the
zone (optional, with inertia), moves faster than ``min_speed`` pixels/second and its
direction differs from the allowed one by more than ``tolerance`` degrees
(``cos(angle) < cos(tolerance)``; default 120°, i.e. within 60° of straight back). After
``min_seconds`` of that, one ``instant`` ``wrong_way`` event is emitted per track, with
``attributes={"speed": px/s, "angle": degrees off the allowed direction, "velocity": [vx, vy]}``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from vigil.apps._common import VEHICLES, ZoneApp, ZoneSettings
from vigil.apps.base import ClassName, FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.tracking import TrackTable, TrackVelocity


class WrongWaySettings(ZoneSettings):
    classes: list[ClassName] = Field(default_factory=VEHICLES.copy)
    direction: tuple[float, float] | None = None
    angle: float | None = None
    tolerance: float = Field(120.0, gt=0, lt=180)
    min_speed: float = Field(20.0, ge=0)
    min_seconds: float = Field(1.0, ge=0)
    window: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _one_direction(self) -> WrongWaySettings:
        if (self.direction is None) == (self.angle is None):
            raise ValueError("give exactly one of direction [dx, dy] or angle (degrees)")
        if self.direction is not None and math.hypot(*self.direction) == 0:
            raise ValueError("direction must be a non-zero vector")
        return self

    def unit_vector(self) -> np.ndarray:
        if self.direction is not None:
            v = np.asarray(self.direction, dtype=np.float64)
        else:
            a = math.radians(float(self.angle or 0.0))
            v = np.array([math.cos(a), math.sin(a)])
        return v / np.linalg.norm(v)


class WrongWay(ZoneApp):
    kind: ClassVar[str] = "wrong_way"
    Settings = WrongWaySettings
    emits: ClassVar[tuple[str, ...]] = ("wrong_way",)

    def __init__(self, name: str, settings: WrongWaySettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: WrongWaySettings = settings
        self.allowed = settings.unit_vector()
        self._cos_tol = math.cos(math.radians(settings.tolerance))
        self._velocity = TrackVelocity(settings.window)
        self._state = TrackTable(wrong_since=(np.float64, np.nan), fired=(bool, False))
        self._total = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        anchors = objs.anchors.astype(np.float64)
        m = self.tracker.update_points(ids, anchors, now)
        if len(m.lost.ids):
            self._velocity.discard(m.lost.ids)
            self._state.discard(m.lost.ids)
        v = self._velocity.update(ids, anchors, now)
        speed = np.hypot(v[:, 0], v[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (v @ self.allowed) / speed
        wrong = m.state & (speed >= max(s.min_speed, 1e-9)) & (cos < self._cos_tol)  # NaN → False

        h = self._state
        rows, _ = h.slots(ids)
        ws = h["wrong_since"][rows]
        ws = np.where(wrong, np.where(np.isnan(ws), now, ws), np.nan)
        h["wrong_since"][rows] = ws
        fire = wrong & ~h["fired"][rows] & (now - ws >= s.min_seconds - 1e-9)
        h["fired"][rows[fire]] = True
        events: list[Event] = []
        for i in np.flatnonzero(fire):
            angle = math.degrees(math.acos(float(np.clip(cos[i], -1.0, 1.0))))
            events.append(
                self.event(
                    ctx,
                    "wrong_way",
                    track_id=int(ids[i]),
                    class_id=int(objs.class_id[i]),
                    zone=self._zone_name,
                    attributes={
                        "speed": round(float(speed[i]), 1),
                        "angle": round(angle, 1),
                        "velocity": [round(float(v[i, 0]), 1), round(float(v[i, 1]), 1)],
                    },
                )
            )
        self._total += len(events)
        return events

    def counters(self) -> dict[str, float]:
        return {"wrong way": float(self._total)}
