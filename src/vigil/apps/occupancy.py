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

``capacity`` only informs the analytics screen (``/kiosk``), which shows the count against it
(against ``threshold`` when it is not set).

Restorable (`vigil.apps.base.App.restorable`): ``current`` and ``max`` survive a restart of
the camera's worker and a move to another node (``current`` until the next frame counts
anew); an alarm open at the restart is not carried over.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, NonNegativeInt

from vigil.apps._common import AppState, Hysteresis, LevelEvent, ZoneApp, ZoneSettings
from vigil.apps.base import FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event


class OccupancySettings(ZoneSettings):
    threshold: int | None = Field(None, ge=1)
    min_seconds: float = Field(0.0, ge=0)
    report_interval: float = Field(10.0, ge=0)
    capacity: int | None = Field(
        None,
        ge=1,
        description="how many the zone holds, for the analytics screen (default: threshold)",
    )


class OccupancyState(AppState):
    current: NonNegativeInt
    max: NonNegativeInt


class Occupancy(ZoneApp):
    kind: ClassVar[str] = "occupancy"
    Settings = OccupancySettings
    emits: ClassVar[tuple[str, ...]] = ("occupancy", "occupancy_alarm")
    restorable: ClassVar[bool] = True

    def __init__(self, name: str, settings: OccupancySettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: OccupancySettings = settings
        self._alarm = LevelEvent(
            self,
            "occupancy_alarm",
            Hysteresis(on_frames=1, off_frames=settings.inertia),
            settings.min_seconds,
        )
        self._current = 0
        self._max = 0
        self._last_report = -math.inf

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
            events += self._alarm.update(
                ctx,
                count >= s.threshold,
                count,
                start_attributes={"count": count},
                end_attributes={"count": count},
            )
        return events

    def finish(self, ctx: FrameContext) -> list[Event]:
        return self._alarm.finish(ctx, {"count": self._current})

    def counters(self) -> dict[str, float]:
        return {"current": float(self._current), "max": float(self._max)}

    def snapshot(self) -> dict[str, Any]:
        return {"current": self._current, "max": self._max}

    def restore(self, state: dict[str, Any]) -> None:
        saved = OccupancyState.model_validate(state)
        self._current = saved.current
        self._max = max(saved.max, saved.current)
