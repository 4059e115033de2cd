"""``stopped_vehicle``: a vehicle standing still in a (road) zone for ``min_seconds`` (default 30).

Per track the app keeps a reference anchor. While the anchor stays within
``max_displacement`` of it — in box heights by default (0.2 box heights: scale invariant,
tolerant of box jitter), or pixels with ``displacement_unit: px`` — the vehicle is still.
When it has been outside that radius for ``inertia`` consecutive frames the vehicle is
moving: the reference resets to the current anchor and the still time restarts.

One ``stopped_vehicle`` event per stop: ``start`` once the vehicle, inside the zone (with
inertia), has been still for ``min_seconds``; ``end`` when it moves (reason ``moved``),
leaves the zone (``left``), disappears (``lost``, at its last sighting) or the stream ends.
Attributes: ``stopped_since`` (pts), at the end also ``stopped_seconds``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from vigil.apps._common import VEHICLES, OpenEvent, PerTrackEventApp, ZoneSettings, heights, round_s
from vigil.apps.base import ClassName, FrameContext, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.tracking import TrackTable


class StoppedVehicleSettings(ZoneSettings):
    classes: list[ClassName] = Field(default_factory=VEHICLES.copy)
    min_seconds: float = Field(30.0, ge=0)
    max_displacement: float = Field(0.2, gt=0)
    displacement_unit: Literal["box_height", "px"] = "box_height"


class StoppedVehicle(PerTrackEventApp):
    kind: ClassVar[str] = "stopped_vehicle"
    Settings = StoppedVehicleSettings
    emits: ClassVar[tuple[str, ...]] = ("stopped_vehicle",)

    def __init__(self, name: str, settings: StoppedVehicleSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: StoppedVehicleSettings = settings
        self._motion = TrackTable(
            ref=(np.float64, np.nan, (2,)),
            still_since=(np.float64, np.nan),
            moving=(np.int32, 0),
        )
        self._total = 0

    def _end(self, ctx: FrameContext, tid: int, end_time: float, reason: str) -> Event:
        oe = self._open.pop(tid)
        since = oe.extra["stopped_since"]
        attributes = {
            "stopped_since": round_s(since),
            "stopped_seconds": round_s(end_time - since),
        }
        return self._end_event(
            ctx, "stopped_vehicle", oe, end_time, reason, attributes, track_id=tid
        )

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        anchors = objs.anchors.astype(np.float64)
        m = self.tracker.update_points(ids, anchors, now)
        events = self._end_lost(ctx, m.lost)
        if len(m.lost.ids):
            self._motion.discard(m.lost.ids)

        t = self._motion
        rows, new = t.slots(ids)
        ref, still_since, moving = t["ref"], t["still_since"], t["moving"]
        ref[rows[new]] = anchors[new]
        still_since[rows[new]] = now
        limit = s.max_displacement * (
            heights(objs.xyxy) if s.displacement_unit == "box_height" else 1.0
        )
        moved = np.linalg.norm(anchors - ref[rows], axis=1) > limit
        streak = np.where(moved, moving[rows] + 1, 0)
        reset = streak >= s.inertia
        ref[rows[reset]] = anchors[reset]
        still_since[rows[reset]] = now
        moving[rows] = np.where(reset, 0, streak)
        still_for = now - still_since[rows]

        is_open = self._is_open(ids)
        for i in np.flatnonzero(is_open & (reset | ~m.state)):
            events.append(self._end(ctx, int(ids[i]), now, "moved" if reset[i] else "left"))
        stopped = m.state & ~reset & (still_for >= s.min_seconds - 1e-9)
        for i in np.flatnonzero(stopped & ~is_open):
            tid, cid = int(ids[i]), int(objs.class_id[i])
            since = float(still_since[rows[i]])
            ev = self.event(
                ctx,
                "stopped_vehicle",
                "start",
                track_id=tid,
                class_id=cid,
                zone=self._zone_name,
                attributes={"stopped_since": round_s(since)},
            )
            self._open[tid] = OpenEvent(ev.id, now, cid, extra={"stopped_since": since})
            self._total += 1
            events.append(ev)
        return events

    def counters(self) -> dict[str, float]:
        return {"stopped": float(len(self._open)), "stops": float(self._total)}
