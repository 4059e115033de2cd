"""``line_crossing``: per-class in/out counts of tracks crossing a line.

Each confirmed crossing of the named `Line` by a track's bottom-centre anchor increments
``"<class> in"`` or ``"<class> out"`` (see `vigil.geometry.Line` for which way is ``in``:
left → right of start→end as seen on the image) and, if its direction is in ``directions``,
emits an instant ``line_crossing`` event with ``attributes={"direction": "in"|"out"}``.
A crossing is confirmed after the anchor stays ``inertia`` frames (default 2) on the new side,
so an object standing on the line is not counted again and again.

When the line's midpoint lies in a calibrated zone (``Zone.ground``, metres), each event
also carries the object's ground speed, ``attributes["speed_kmh"]`` (absent while its
history is shorter than half a second).

Restorable (`vigil.apps.base.App.restorable`): the in/out totals survive a restart of the
camera's worker and a move to another node (those of classes it no longer watches are
dropped).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, StringConstraints

from vigil.apps._common import PEOPLE, AppState, Total, TrackedSettings
from vigil.apps.base import App, ClassName, FrameContext, LineName, Scene
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.tracking import GroundSpeed, LineCrossingTracker


class LineCrossingSettings(TrackedSettings):
    line: LineName
    classes: list[ClassName] = Field(default_factory=PEOPLE.copy)
    directions: Literal["both", "in", "out"] = "both"
    inertia: int = Field(2, ge=1, le=100, description="frames on the new side to confirm")


class LineCrossingState(AppState):
    counts: dict[Annotated[str, StringConstraints(pattern=r"^.{1,64} (in|out)$")], Total]


class LineCrossing(App):
    kind: ClassVar[str] = "line_crossing"
    Settings = LineCrossingSettings
    emits: ClassVar[tuple[str, ...]] = ("line_crossing",)
    restorable: ClassVar[bool] = True

    def __init__(self, name: str, settings: LineCrossingSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: LineCrossingSettings = settings
        self.line = scene.line(settings.line)
        self.class_ids = scene.class_ids(settings.classes)
        self.tracker = LineCrossingTracker(
            self.line, frames=settings.inertia, forget_after=settings.lost_timeout
        )
        middle = np.add(self.line.start, self.line.end) / 2.0
        ground = scene.ground_at((float(middle[0]), float(middle[1])))
        self._speed = GroundSpeed(ground) if ground is not None else None
        self._counts: dict[str, float] = {}
        if self.class_ids is not None:
            for cid in self.class_ids.tolist():
                cname = scene.class_name(cid)
                self._counts[f"{cname} in"] = 0.0
                self._counts[f"{cname} out"] = 0.0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        objs = self.select(objects, self.class_ids)
        upd = self.tracker.update(objs.tracker_id, objs.anchors, ctx.pts)
        speed = self._speeds_kmh(objs, upd.lost_ids, ctx.pts)
        hits = np.flatnonzero(upd.crossed)
        if len(hits) == 0:
            return []
        want = self.settings.directions
        events: list[Event] = []
        for i in hits:
            direction = "in" if upd.direction[i] > 0 else "out"
            cid = int(objs.class_id[i])
            key = f"{self.scene.class_name(cid)} {direction}"
            self._counts[key] = self._counts.get(key, 0.0) + 1.0
            attributes: dict[str, Any] = {"direction": direction}
            if speed is not None and np.isfinite(speed[i]):
                attributes["speed_kmh"] = round(float(speed[i]), 1)
            if want == "both" or want == direction:
                events.append(
                    self.event(
                        ctx,
                        "line_crossing",
                        track_id=int(objs.tracker_id[i]),
                        class_id=cid,
                        line=self.line.name,
                        attributes=attributes,
                    )
                )
        return events

    def _speeds_kmh(self, objs: Detections, lost_ids: np.ndarray, now: float) -> np.ndarray | None:
        """Each object's ground speed in km/h (NaN while unknown); None without calibration."""
        if self._speed is None:
            return None
        if len(lost_ids):
            self._speed.discard(lost_ids)
        return self._speed.update(objs.tracker_id, objs.anchors, now)

    def counters(self) -> dict[str, float]:
        return dict(self._counts)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": dict(self._counts)}

    def restore(self, state: dict[str, Any]) -> None:
        counts = LineCrossingState.model_validate(state).counts
        watched = self.class_ids is None
        self._counts.update(
            (key, total) for key, total in counts.items() if watched or key in self._counts
        )
