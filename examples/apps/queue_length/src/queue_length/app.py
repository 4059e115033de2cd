"""``queue_length``: how many people wait in a zone, and how long they have been waiting.

A person is in the queue from the frame their bottom-centre anchor is inside the zone until
the frame it is not (or they are unseen for ``lost_timeout`` seconds). Every
``report_interval`` seconds the app emits an instant ``queue_length`` event with
``attributes={"count": n, "avg_wait": s, "max_wait": s}`` (waits of the people in the queue
now); ``long_wait`` (instant, once per person) when someone has waited ``max_wait`` seconds.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from vigil.apps import App, AppSettings, ClassName, FrameContext, Scene, ZoneName
from vigil.detection import Detections
from vigil.events.event import Event


class QueueSettings(AppSettings):
    zone: ZoneName = Field(description="the zone where people queue")
    classes: list[ClassName] = Field(default_factory=lambda: ["person"])
    report_interval: float = Field(5.0, gt=0, description="seconds between queue_length events")
    max_wait: float | None = Field(None, gt=0, description="seconds before a long_wait event")
    lost_timeout: float = Field(2.0, gt=0, description="seconds before an unseen person is gone")


class QueueLength(App):
    kind: ClassVar[str] = "queue_length"
    Settings = QueueSettings
    emits: ClassVar[tuple[str, ...]] = ("queue_length", "long_wait")

    def __init__(self, name: str, settings: QueueSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: QueueSettings = settings
        self.zone = scene.zone(settings.zone)
        self.class_ids = scene.class_ids(settings.classes)
        self._entered: dict[int, float] = {}  # track id -> pts it joined the queue
        self._last_seen: dict[int, float] = {}
        self._alerted: set[int] = set()
        self._last_report = -math.inf
        self._waits: list[float] = []

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        now = ctx.pts
        people = self.select(objects, self.class_ids)
        inside = set(people.tracker_id[self.zone.contains(people.anchors)].tolist())
        for tid in inside:
            self._entered.setdefault(tid, now)
            self._last_seen[tid] = now
        seen = set(people.tracker_id.tolist())
        for tid in list(self._entered):
            left = tid in seen and tid not in inside
            if left or now - self._last_seen[tid] > self.settings.lost_timeout:
                del self._entered[tid], self._last_seen[tid]
                self._alerted.discard(tid)
        self._waits = [now - t for t in self._entered.values()]

        events = []
        if self.settings.max_wait is not None:
            for tid, since in self._entered.items():
                if now - since >= self.settings.max_wait and tid not in self._alerted:
                    self._alerted.add(tid)
                    events.append(
                        self.event(
                            ctx,
                            "long_wait",
                            track_id=tid,
                            zone=self.zone.name,
                            attributes={"wait": round(now - since, 3)},
                        )
                    )
        if now - self._last_report >= self.settings.report_interval:
            self._last_report = now
            events.append(
                self.event(ctx, "queue_length", zone=self.zone.name, attributes=self._stats())
            )
        return events

    def _stats(self) -> dict[str, float]:
        waits = np.asarray(self._waits, dtype=np.float64)
        return {
            "count": len(waits),
            "avg_wait": round(float(waits.mean()), 3) if len(waits) else 0.0,
            "max_wait": round(float(waits.max()), 3) if len(waits) else 0.0,
        }

    def counters(self) -> dict[str, float]:
        stats = self._stats()
        return {"queue": stats["count"], "avg wait s": stats["avg_wait"]}
