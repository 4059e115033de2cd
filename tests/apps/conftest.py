"""Synthetic-track harness for the app tests: build `Detections` by hand, frame by frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from vigil.apps import App, FrameContext, Scene
from vigil.apps.registry import build_app
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry import Line, Zone

# the first COCO classes, in COCO order (ids 0..7)
CLASSES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck")
PERSON, CAR, TRUCK = 0, 2, 7


def objects(items: Iterable[Sequence[float]]) -> Detections:
    """Detections from ``(tracker_id, class_id, anchor_x, anchor_y[, w, h])`` tuples.

    The box is ``w`` × ``h`` (default 20 × 50) with its bottom-centre at the anchor.
    """
    rows = []
    for item in items:
        tid, cid, x, y = item[:4]
        w, h = (item[4], item[5]) if len(item) >= 6 else (20.0, 50.0)
        rows.append((tid, cid, x - w / 2, y - h, x + w / 2, y))
    if not rows:
        return Detections.empty()
    a = np.asarray(rows, dtype=np.float64)
    return Detections(
        xyxy=a[:, 2:6],
        confidence=np.full(len(a), 0.9),
        class_id=a[:, 1].astype(np.int64),
        tracker_id=a[:, 0].astype(np.int64),
    )


class Sim:
    """Feeds frames at `fps` to an app; frame i has pts i / fps. Collects every event."""

    def __init__(self, app: App, fps: float = 10.0, width: int = 1000, height: int = 1000):
        self.app, self.fps, self.width, self.height = app, fps, width, height
        self.index = 0
        self.events: list[Event] = []

    def ctx(self, index: int) -> FrameContext:
        return FrameContext("cam", index, index / self.fps, self.width, self.height, None)

    def step(self, items: Iterable[Sequence[float]] = ()) -> list[Event]:
        evs = self.app.process(self.ctx(self.index), objects(items))
        self.index += 1
        self.events.extend(evs)
        return evs

    def run(self, frames: Iterable[Iterable[Sequence[float]]]) -> list[Event]:
        out: list[Event] = []
        for items in frames:
            out.extend(self.step(items))
        return out

    def finish(self) -> list[Event]:
        evs = self.app.finish(self.ctx(self.index - 1))
        self.events.extend(evs)
        return evs

    def of(self, state: str | None = None, type: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if (state is None or e.state == state) and (type is None or e.type == type)
        ]


def make_scene(width: int = 1000, height: int = 1000) -> Scene:
    return Scene.build(
        width,
        height,
        zones=[
            Zone("square", [(200, 200), (600, 200), (600, 600), (200, 600)]),
            Zone("road", [(0, 0.4), (1, 0.4), (1, 0.8), (0, 0.8)]),  # normalised
            Zone(  # calibrated: 20 m by 2 m on the ground
                "lane",
                [(0, 0.85), (1, 0.85), (1, 0.95), (0, 0.95)],
                ground=((0, 0), (20, 0), (20, 2), (0, 2)),
            ),
        ],
        lines=[Line("door", (0, 500), (1000, 500))],
        class_names=CLASSES,
    )


@pytest.fixture
def scene() -> Scene:
    return make_scene()


@pytest.fixture
def sim(scene: Scene):
    """``sim(kind, settings, fps=10) -> Sim`` running a freshly built app on the test scene."""

    def factory(
        kind: str, settings: dict | None = None, fps: float = 10.0, name: str = "app"
    ) -> Sim:
        return Sim(build_app(kind, name, settings or {}, scene), fps=fps)

    return factory
