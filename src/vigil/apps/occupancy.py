"""``occupancy``: how many objects of the watched classes are in a zone (or the whole frame).

Every frame the count is the number of visible tracks confirmed inside the zone (inertia
applies). Counters: ``current`` and ``max``.

Events:

* ``occupancy`` (``instant``) every ``report_interval`` seconds (0 = never): a sample of the
  count time series, ``attributes={"count": n, "by_class": {"person": n}}``.
* ``occupancy_alarm`` (``start``/``end``) when ``threshold`` is set: starts once the count has
  been ≥ ``threshold`` for ``min_seconds``; ends when it has been below for ``inertia``
  frames (reason ``below``) or at end of stream. Attributes: ``count``; at the end also
  ``max_count`` and ``duration``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from vigil.apps._common import Hysteresis, OpenEvent, TrackedSettings, round_s
from vigil.apps.base import App, FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.tracking import ZoneTracker


class OccupancySettings(TrackedSettings):
    zone: str | None = None
    classes: list[str | int] = Field(default_factory=lambda: ["person"])
    threshold: int | None = Field(None, ge=1)
    min_seconds: float = Field(0.0, ge=0)
    report_interval: float = Field(10.0, ge=0)


class Occupancy(App):
    kind: ClassVar[str] = "occupancy"
    Settings = OccupancySettings
    emits: ClassVar[tuple[str, ...]] = ("occupancy", "occupancy_alarm")

    def __init__(self, name: str, settings: OccupancySettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: OccupancySettings = settings
        self.zone = scene.zone(settings.zone) if settings.zone is not None else None
        self.class_ids = scene.class_ids(settings.classes)
        self.tracker = ZoneTracker(
            self.zone, settings.inertia, settings.inertia, forget_after=settings.lost_timeout
        )
        self._over = Hysteresis(on_frames=1, off_frames=settings.inertia)
        self._alarm: OpenEvent | None = None
        self._current = 0
        self._max = 0
        self._last_report = -math.inf

    @property
    def _zone_name(self) -> str | None:
        return None if self.zone is None else self.zone.name

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        m = self.tracker.update_points(objs.tracker_id, objs.anchors, now)
        count = int(m.state.sum())
        self._current = count
        self._max = max(self._max, count)
        events: list[Event] = []

        if s.report_interval > 0 and now - self._last_report >= s.report_interval - 1e-9:
            self._last_report = now
            cids, n = np.unique(objs.class_id[m.state], return_counts=True)
            by_class = {
                self.scene.class_name(int(c)): int(k)
                for c, k in zip(cids.tolist(), n.tolist(), strict=True)
            }
            events.append(
                self.event(
                    ctx,
                    "occupancy",
                    zone=self._zone_name,
                    attributes={"count": count, "by_class": by_class},
                )
            )

        if s.threshold is not None:
            self._over.update(count >= s.threshold, now)
            if self._alarm is not None:
                self._alarm.extra["max_count"] = max(self._alarm.extra["max_count"], count)
                if not self._over.state:
                    events.append(self._end_alarm(ctx, now, "below"))
            elif self._over.state and now - self._over.since >= s.min_seconds - 1e-9:
                ev = self.event(
                    ctx,
                    "occupancy_alarm",
                    "start",
                    zone=self._zone_name,
                    attributes={"count": count},
                )
                self._alarm = OpenEvent(ev.id, now, extra={"max_count": count})
                events.append(ev)
        return events

    def _end_alarm(self, ctx: FrameContext, end_time: float, reason: str) -> Event:
        oe, self._alarm = self._alarm, None
        assert oe is not None
        return self.event(
            ctx,
            "occupancy_alarm",
            "end",
            start_time=oe.start_time,
            end_time=end_time,
            zone=self._zone_name,
            attributes={
                "count": self._current,
                "max_count": oe.extra["max_count"],
                "duration": round_s(end_time - oe.start_time),
                "reason": reason,
            },
            id=oe.id,
        )

    def finish(self, ctx: FrameContext) -> list[Event]:
        return [] if self._alarm is None else [self._end_alarm(ctx, ctx.pts, "end_of_stream")]

    def counters(self) -> dict[str, float]:
        return {"current": float(self._current), "max": float(self._max)}
