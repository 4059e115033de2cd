"""``zone_transit``: region entrance and exit, per track.

A track of the watched classes *enters* the zone when it is confirmed inside (inertia; the
event's time is backdated to its first frame inside) and *exits* when it is confirmed
outside again, or when it vanishes inside (unseen for ``lost_timeout``: it exits at its last
sighting, reason ``lost``).

Events (``instant``): ``entered`` and ``exited``; an exit's attributes are ``dwell`` (seconds
inside) and ``reason`` (``left`` or ``lost``). Counters: ``inside``, ``entered``, ``exited``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vigil.apps._common import ZoneApp, ZoneSettings, round_s
from vigil.apps.base import FrameContext, Scene, ZoneName
from vigil.detection.detections import Detections
from vigil.events.event import Event


class ZoneTransitSettings(ZoneSettings):
    zone: ZoneName


class ZoneTransit(ZoneApp):
    kind: ClassVar[str] = "zone_transit"
    Settings = ZoneTransitSettings
    emits: ClassVar[tuple[str, ...]] = ("entered", "exited")

    def __init__(self, name: str, settings: ZoneTransitSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self._inside: dict[int, tuple[float, int]] = {}  # track -> (entered at, class id)
        self._entered = 0
        self._exited = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        m = self.tracker.update_points(ids, objs.anchors, ctx.pts)
        events = [
            self._exit(ctx, tid, last, "lost")
            for tid, last in zip(m.lost.ids.tolist(), m.lost.last_seen.tolist(), strict=True)
            if tid in self._inside
        ]
        for i in np.flatnonzero(m.changed & ~m.state):
            if int(ids[i]) in self._inside:
                events.append(self._exit(ctx, int(ids[i]), ctx.pts, "left"))
        for i in np.flatnonzero(m.entered):
            tid, cid, since = int(ids[i]), int(objs.class_id[i]), float(m.since[i])
            self._inside[tid] = (since, cid)
            self._entered += 1
            events.append(
                self.event(ctx, "entered", start_time=round_s(since), track_id=tid, class_id=cid,
                           zone=self._zone_name)
            )  # fmt: skip
        return events

    def _exit(self, ctx: FrameContext, tid: int, at: float, reason: str) -> Event:
        entered, cid = self._inside.pop(tid)
        self._exited += 1
        return self.event(
            ctx, "exited", start_time=round_s(at), track_id=tid, class_id=cid,
            zone=self._zone_name, attributes={"dwell": round_s(at - entered), "reason": reason},
        )  # fmt: skip

    def counters(self) -> dict[str, float]:
        return {
            "inside": float(len(self._inside)),
            "entered": float(self._entered),
            "exited": float(self._exited),
        }
