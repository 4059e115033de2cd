"""``loitering``: an object staying in a zone longer than ``min_seconds`` (default 10).

Per track: ``start`` when its dwell (time since it entered the zone, inertia included)
reaches ``min_seconds``; optional ``update`` every ``update_interval`` seconds; ``end`` when
it leaves (``left``), disappears (``lost``, at its last sighting) or the stream ends. The
attribute ``dwell`` is the dwell in seconds at that moment; ``entered_at`` the entry pts.

Dwell statistics over every visit (not only loiterers) are kept in the counters:
``dwellers`` (tracks in the zone now), ``loitering`` (open events), ``visits`` (finished
visits), ``mean dwell`` and ``max dwell`` (seconds, finished and current visits).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from vigil.apps._common import OpenEvent, PerTrackEventApp, ZoneSettings, round_s
from vigil.apps.base import FrameContext, Scene, ZoneName
from vigil.detection.detections import Detections
from vigil.events.event import Event


class LoiteringSettings(ZoneSettings):
    zone: ZoneName
    min_seconds: float = Field(10.0, ge=0)
    update_interval: float | None = Field(None, gt=0)


class Loitering(PerTrackEventApp):
    kind: ClassVar[str] = "loitering"
    Settings = LoiteringSettings
    emits: ClassVar[tuple[str, ...]] = ("loitering",)

    def __init__(self, name: str, settings: LoiteringSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: LoiteringSettings = settings
        self._entered: dict[int, float] = {}  # entry pts of the tracks inside the zone
        self._dwellers = 0
        self._visits = 0
        self._dwell_sum = 0.0
        self._max_dwell = 0.0

    def _visit_done(self, dwell: float) -> None:
        self._visits += 1
        self._dwell_sum += dwell
        self._max_dwell = max(self._max_dwell, dwell)

    def _end(
        self, ctx: FrameContext, tid: int, end_time: float, reason: str, dwell: float | None = None
    ) -> Event:
        oe = self._open.pop(tid)
        entered = oe.extra["entered_at"]
        dwell = end_time - entered if dwell is None else dwell
        attributes = {"entered_at": round_s(entered), "dwell": round_s(dwell)}
        return self._end_event(ctx, "loitering", oe, end_time, reason, attributes, track_id=tid)

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        s = self.settings
        now = ctx.pts
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        m = self.tracker.update_points(ids, objs.anchors, now)
        events: list[Event] = []

        lost = m.lost
        for tid, inside, since, last in zip(
            lost.ids.tolist(),
            lost.state.tolist(),
            lost.since.tolist(),
            lost.last_seen.tolist(),
            strict=True,
        ):
            self._entered.pop(tid, None)
            if inside:
                self._visit_done(last - since)
            if tid in self._open:
                events.append(self._end(ctx, tid, last, "lost", dwell=last - since))
        for i in np.flatnonzero(m.exited):  # m.since is now the first frame outside
            tid = int(ids[i])
            entered = self._entered.pop(tid, float(m.since[i]))
            self._visit_done(float(m.since[i]) - entered)
            if tid in self._open:
                events.append(self._end(ctx, tid, now, "left", dwell=float(m.since[i]) - entered))
        for i in np.flatnonzero(m.entered):
            self._entered[int(ids[i])] = float(m.since[i])

        dwell = np.where(m.state, now - m.since, 0.0)
        self._dwellers = int(m.state.sum())
        still_inside = m.state & m.raw  # not counting frames of a leaving streak
        if still_inside.any():
            self._max_dwell = max(self._max_dwell, float(dwell[still_inside].max()))
        is_open = self._is_open(ids)
        for i in np.flatnonzero(m.state & ~is_open & (dwell >= s.min_seconds - 1e-9)):
            tid, cid = int(ids[i]), int(objs.class_id[i])
            entered = float(m.since[i])
            ev = self.event(
                ctx,
                "loitering",
                "start",
                track_id=tid,
                class_id=cid,
                zone=self._zone_name,
                attributes={"entered_at": round_s(entered), "dwell": round_s(dwell[i])},
            )
            self._open[tid] = OpenEvent(
                ev.id, now, cid, last_update=now, extra={"entered_at": entered}
            )
            events.append(ev)
        if s.update_interval is not None:
            for i in np.flatnonzero(m.state & is_open):
                oe = self._open[int(ids[i])]
                if now - oe.last_update >= s.update_interval - 1e-9:
                    oe.last_update = now
                    events.append(
                        self.event(
                            ctx,
                            "loitering",
                            "update",
                            start_time=oe.start_time,
                            track_id=int(ids[i]),
                            class_id=oe.class_id,
                            zone=self._zone_name,
                            attributes={
                                "entered_at": round_s(oe.extra["entered_at"]),
                                "dwell": round_s(dwell[i]),
                            },
                            id=oe.id,
                        )
                    )
        return events

    def counters(self) -> dict[str, float]:
        mean = self._dwell_sum / self._visits if self._visits else 0.0
        return {
            "dwellers": float(self._dwellers),
            "loitering": float(len(self._open)),
            "visits": float(self._visits),
            "mean dwell": round_s(mean),
            "max dwell": round_s(self._max_dwell),
        }
