"""``intrusion``: an object of the watched classes inside a zone (optionally only on a schedule).

One long-lived ``intrusion`` event per track: ``start`` once the track has been inside the
zone (with inertia) for ``min_seconds`` while the schedule is armed; ``end`` when it leaves
(reason ``left``), disappears (``lost``, ended at its last sighting), the schedule disarms
(``schedule``) or the stream ends (``end_of_stream``). Attributes: ``entered_at`` (pts the
track entered the zone), at the end also ``duration``.

Schedule times use the app's ``clock(ctx) -> datetime`` hook: by default ``start_datetime +
pts`` when ``start_datetime`` is set, otherwise the current local time (see
`vigil.apps.schedule`). Assign ``app.clock`` to override it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

import numpy as np
from pydantic import Field

from vigil.apps._common import OpenEvent, PerTrackEventApp, ZoneSettings, round_s
from vigil.apps.base import FrameContext, Scene, ZoneName
from vigil.apps.schedule import ScheduleWindow, frame_clock, schedule_active
from vigil.detection.detections import Detections
from vigil.events.event import Event


class IntrusionSettings(ZoneSettings):
    zone: ZoneName
    min_seconds: float = Field(0.0, ge=0)
    schedule: list[ScheduleWindow] = Field(default_factory=list)
    start_datetime: datetime | None = None


class Intrusion(PerTrackEventApp):
    kind: ClassVar[str] = "intrusion"
    Settings = IntrusionSettings
    emits: ClassVar[tuple[str, ...]] = ("intrusion",)

    def __init__(self, name: str, settings: IntrusionSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: IntrusionSettings = settings
        self.clock: Callable[[FrameContext], datetime] = lambda ctx: frame_clock(
            self.settings.start_datetime, ctx.pts
        )
        self._total = 0
        self._armed = True

    def _end(self, ctx: FrameContext, tid: int, end_time: float, reason: str) -> Event:
        oe = self._open.pop(tid)
        attributes = {
            "entered_at": oe.extra["entered_at"],
            "duration": round_s(end_time - oe.start_time),
        }
        return self._end_event(ctx, "intrusion", oe, end_time, reason, attributes, track_id=tid)

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        m = self.tracker.update_points(ids, objs.anchors, ctx.pts)
        self._armed = schedule_active(s.schedule, self.clock(ctx)) if s.schedule else True
        events = self._end_lost(ctx, m.lost)

        is_open = self._is_open(ids)
        qualifies = m.state & (ctx.pts - m.since >= s.min_seconds - 1e-9) & self._armed
        for i in np.flatnonzero(is_open & ~m.state):
            events.append(self._end(ctx, int(ids[i]), ctx.pts, "left"))
        if not self._armed:  # disarmed: close everything still open, visible or not
            for tid in list(self._open):
                events.append(self._end(ctx, tid, ctx.pts, "schedule"))
        for i in np.flatnonzero(qualifies & ~is_open):
            tid, cid = int(ids[i]), int(objs.class_id[i])
            ev = self.event(
                ctx,
                "intrusion",
                "start",
                track_id=tid,
                class_id=cid,
                zone=self._zone_name,
                attributes={"entered_at": round_s(m.since[i])},
            )
            self._open[tid] = OpenEvent(
                ev.id, ctx.pts, cid, extra={"entered_at": round_s(m.since[i])}
            )
            self._total += 1
            events.append(ev)
        return events

    def counters(self) -> dict[str, float]:
        return {"active": float(len(self._open)), "intrusions": float(self._total)}
