"""``queue``: how many people wait in a queue zone, how long they have waited, and how long a
newcomer will wait.

A track is in the queue from when it is confirmed inside the zone (inertia, backdated to its
first frame inside) until it is confirmed outside: it was *served* then, after waiting that
long. A track that vanishes in the queue (unseen for ``lost_timeout``) leaves it unserved.
The service rate is the number served over the last ``service_window`` seconds; the
estimated wait of someone joining now is the queue length over that rate (None until anyone
was served).

Events:

* ``queue`` (``instant``) every ``report_interval`` seconds: ``attributes={"count": n,
  "avg_wait": s, "max_wait": s, "served_per_min": r, "est_wait": s | None}``.
* ``long_wait`` (``instant``, once per track) when someone has waited ``max_wait`` seconds.
* ``served`` (``instant``) when a track leaves the queue, ``attributes={"wait": s}``.

Counters: ``queue``, ``avg wait s``, ``est wait s``, ``served``.
"""

from __future__ import annotations

import collections
import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vigil.apps._common import ZoneApp, ZoneSettings, round_s
from vigil.apps.base import FrameContext, Scene, ZoneName
from vigil.detection.detections import Detections
from vigil.events.event import Event


class QueueSettings(ZoneSettings):
    zone: ZoneName
    report_interval: float = Field(10.0, gt=0, description="seconds between queue events")
    max_wait: float | None = Field(None, gt=0, description="seconds before a long_wait event")
    service_window: float = Field(
        300.0, gt=0, description="seconds over which the service rate is measured"
    )


class Queue(ZoneApp):
    kind: ClassVar[str] = "queue"
    Settings = QueueSettings
    emits: ClassVar[tuple[str, ...]] = ("queue", "long_wait", "served")

    def __init__(self, name: str, settings: QueueSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: QueueSettings = settings
        self._joined: dict[int, float] = {}  # track -> when it joined the queue
        self._alerted: set[int] = set()
        self._served_at: collections.deque[float] = collections.deque()
        self._served = 0
        self._last_report = -math.inf
        self._now = 0.0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        now = self._now = ctx.pts
        objs = self.select(objects, self.class_ids)
        ids = objs.tracker_id
        m = self.tracker.update_points(ids, objs.anchors, now)
        for tid in m.lost.ids.tolist():  # gone without being seen to leave: not served
            self._leave(tid)
        events: list[Event] = []
        for i in np.flatnonzero(m.entered):
            self._joined[int(ids[i])] = float(m.since[i])
        for i in np.flatnonzero(m.changed & ~m.state):
            tid = int(ids[i])
            joined = self._leave(tid)
            if joined is not None:
                self._served += 1
                self._served_at.append(now)
                events.append(
                    self.event(ctx, "served", track_id=tid, class_id=int(objs.class_id[i]),
                               zone=self._zone_name, attributes={"wait": round_s(now - joined)})
                )  # fmt: skip
        events += self._long_waits(ctx)
        while self._served_at and self._served_at[0] < now - self.settings.service_window:
            self._served_at.popleft()
        if now - self._last_report >= self.settings.report_interval - 1e-9:
            self._last_report = now
            events.append(self.event(ctx, "queue", zone=self._zone_name, attributes=self.stats()))
        return events

    def _leave(self, tid: int) -> float | None:
        self._alerted.discard(tid)
        return self._joined.pop(tid, None)

    def _long_waits(self, ctx: FrameContext) -> list[Event]:
        limit = self.settings.max_wait
        if limit is None:
            return []
        events = []
        for tid, joined in self._joined.items():
            if ctx.pts - joined >= limit and tid not in self._alerted:
                self._alerted.add(tid)
                events.append(
                    self.event(ctx, "long_wait", track_id=tid, zone=self._zone_name,
                               attributes={"wait": round_s(ctx.pts - joined)})
                )  # fmt: skip
        return events

    def stats(self) -> dict[str, Any]:
        """The queue now: length, waits so far, service rate and a newcomer's estimated wait."""
        waits = np.asarray([self._now - t for t in self._joined.values()], np.float64)
        window = min(self.settings.service_window, max(self._now, 1e-9))
        rate = len(self._served_at) / window  # served per second
        count = len(waits)
        return {
            "count": count,
            "avg_wait": round_s(float(waits.mean())) if count else 0.0,
            "max_wait": round_s(float(waits.max())) if count else 0.0,
            "served_per_min": round(rate * 60, 3),
            "est_wait": round_s(count / rate) if rate > 0 else None,
        }

    def counters(self) -> dict[str, float]:
        stats = self.stats()
        est = stats["est_wait"]
        return {
            "queue": float(stats["count"]),
            "avg wait s": float(stats["avg_wait"]),
            "est wait s": float(est) if est is not None else 0.0,
            "served": float(self._served),
        }
