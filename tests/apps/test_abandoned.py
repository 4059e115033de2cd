"""``abandoned_object`` / ``object_removed`` on synthetic clips with exact ground truth.

Each clip is a still textured ground with camera noise, at 10 fps; objects are painted in and
tracked people are given as boxes, so when the object appeared or vanished, where it is, and
who stood near it are known exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.apps import FrameContext, Scene
from vigil.apps.registry import build_app
from vigil.appstore.registry import app_manifest
from vigil.detection.classes import COCO_CLASSES as CLASSES
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry import Zone

W, H, FPS = 320, 240, 10.0
BAG = (150, 150, 174, 168)  # x1, y1, x2, y2
KINDS = ("abandoned_object", "object_removed")
PERSON = 0
NOISE = np.random.default_rng(1).normal(0, 2.0, (17, H, W, 3))  # camera noise, cycled
Box = tuple[int, int, int, int, int]  # track id, x1, y1, x2, y2


def tracked_people(boxes: list[Box]) -> Detections:
    if not boxes:
        return Detections.empty()
    a = np.asarray(boxes, np.float64)
    return Detections(
        xyxy=a[:, 1:],
        confidence=np.full(len(a), 0.9),
        class_id=np.full(len(a), PERSON),
        tracker_id=a[:, 0].astype(np.int64),
    )


def ground(seed: int = 0) -> np.ndarray:
    """A still, textured BGR ground: smooth blotches and a few lines."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(90, 170, (H // 8, W // 8))
    grey = np.kron(coarse, np.ones((8, 8)))
    grey[::40] = 60  # paving lines
    return np.repeat(grey[:, :, None], 3, axis=2)


def paint_bag(image: np.ndarray, box: tuple[int, int, int, int] = BAG) -> None:
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = (30, 40, 110)  # a dark red bag
    image[(y1 + y2) // 2 : (y1 + y2) // 2 + 2, x1 + 3 : x2 - 3] = 200  # its light strap


@dataclass
class Clip:
    """Frame i at pts i / FPS: `ground`, with the bag while `bag(i)`, people from `people(i)`
    as ``(track id, x1, y1, x2, y2)`` painted dark and reported as tracked, times a
    brightness `gain(i)`, plus camera noise."""

    frames: int
    bag: Callable[[int], bool] = lambda i: False
    people: Callable[[int], list[Box]] = lambda i: []
    gain: Callable[[int], float] = lambda i: 1.0
    ground: np.ndarray = field(default_factory=ground)

    def frame(self, i: int) -> tuple[np.ndarray, Detections]:
        image = self.ground.copy()
        if self.bag(i):
            paint_bag(image)
        people = self.people(i)
        for _, x1, y1, x2, y2 in people:
            image[y1:y2, x1:x2] = (50, 50, 60)
        image = image * self.gain(i) + NOISE[i % len(NOISE)]
        return np.clip(image, 0, 255).astype(np.uint8), tracked_people(people)


def run(clip: Clip, settings: dict | None = None, scene: Scene | None = None) -> list[Event]:
    """Both apps over `clip`; every event, in order."""
    scene = scene or Scene.build(W, H, class_names=CLASSES)
    apps = [build_app(kind, kind, {"min_seconds": 5, **(settings or {})}, scene) for kind in KINDS]
    events = []
    for i in range(clip.frames):
        image, tracked = clip.frame(i)
        ctx = FrameContext("cam", i, i / FPS, W, H, image)
        events += [e for app in apps for e in app.process(ctx, tracked)]
    return events


def walker(tid: int, start: int, x0: float, speed: float, y: int = 60):
    """A tracked person 16x40 px walking right at `speed` px/frame from frame `start`."""

    def people(i: int) -> list[Box]:
        if i < start:
            return []
        x = int(x0 + speed * (i - start))
        return [(tid, x, y, x + 16, y + 40)] if x < W else []

    return people


def test_a_left_object_fires_once_min_seconds_after_it_appears():
    appears = 60  # 6.0 s, after the long model's warm-up
    clip = Clip(180, bag=lambda i: i >= appears, people=walker(7, 0, 0, 3))
    (event,) = run(clip)
    assert (event.type, event.state, event.app) == (
        "abandoned_object",
        "instant",
        "abandoned_object",
    )
    delay = event.start_time - appears / FPS
    assert 5.0 <= delay <= 6.5  # min_seconds, plus the short model's absorption (~1 s)
    assert event.attributes["box"] == pytest.approx(list(BAG), abs=4)
    assert 6.0 <= event.attributes["appeared_at"] <= 7.0
    assert event.attributes["still_seconds"] == pytest.approx(
        event.start_time - event.attributes["appeared_at"]
    )
    assert event.track_id is None  # the walker never came near it


def test_a_removed_object_fires_once_min_seconds_after_it_vanishes():
    vanishes = 80  # 8.0 s: the bag was there from the start, past the long model's warm-up
    clip = Clip(200, bag=lambda i: i < vanishes, people=walker(7, 0, 0, 3))
    (event,) = run(clip)
    assert event.type == "object_removed"
    assert 5.0 <= event.start_time - vanishes / FPS <= 6.5
    assert event.attributes["box"] == pytest.approx(list(BAG), abs=4)


def test_the_owner_is_linked_and_nothing_fires_while_they_stand_beside_it():
    # Person 3 walks up to the bag's spot, puts it down at frame 80, stands beside it until
    # frame 160 (8 s, longer than min_seconds), then walks away.
    def people(i: int) -> list[Box]:
        x = 176 + 4 * min(0, i - 60) + 4 * max(0, i - 160)
        return [(3, x, 130, x + 16, 170)] if -16 < x < W else []

    clip = Clip(280, bag=lambda i: i >= 80, people=people)
    (event,) = run(clip)
    assert event.type == "abandoned_object"
    assert (event.track_id, event.class_name) == (3, "person")
    assert event.start_time >= 16.0 + 5.0  # counted from when the owner left


def test_people_standing_still_are_not_objects():
    # Two tracked people stand still for 15 s each (one from the first frame), then leave.
    def people(i: int) -> list[Box]:
        out = []
        if i < 150:
            out.append((1, 40, 100, 56, 140))
        if 50 <= i < 200:
            out.append((2, 200, 120, 216, 160))
        return out

    assert run(Clip(320, people=people)) == []


def test_lighting_drift_is_not_a_change():
    # The whole picture dims to half and brightens back over 30 s while people walk by.
    def gain(i: int) -> float:
        return 1.0 - 0.5 * np.sin(np.pi * i / 300)

    clip = Clip(300, people=walker(1, 0, 0, 2), gain=gain)
    assert run(clip) == []


def test_only_objects_in_the_zone_count():
    elsewhere = Zone("elsewhere", [(0, 0), (100, 0), (100, 100), (0, 100)])
    around = Zone("around", [(120, 120), (220, 120), (220, 220), (120, 220)])
    scene = Scene.build(W, H, zones=[elsewhere, around], class_names=CLASSES)
    clip = Clip(150, bag=lambda i: i >= 60)
    assert run(clip, {"zone": "elsewhere"}, scene) == []
    (event,) = run(clip, {"zone": "around"}, scene)
    assert (event.type, event.zone) == ("abandoned_object", "around")


def test_objects_below_min_area_are_ignored():
    # the bag is 24x18 px: 0.56 % of the frame
    assert run(Clip(150, bag=lambda i: i >= 60), {"min_area": 0.01, "max_area": 0.1}) == []


def test_settings_and_manifest():
    scene = Scene.build(W, H, class_names=CLASSES)
    for kind in KINDS:
        manifest = app_manifest(kind).manifest
        assert manifest.data == "pixels" and manifest.events == [kind]
        zone = manifest.settings_schema["properties"]["zone"]
        assert {"type": "string", "x-vigil-ref": "zone"} in zone["anyOf"]
        assert "min_seconds" in manifest.settings_schema["properties"]
        with pytest.raises(ValidationError, match="min_area"):
            build_app(kind, kind, {"min_area": 0.1, "max_area": 0.05}, scene)
        with pytest.raises(ValueError, match="unknown zone 'lobby'"):
            build_app(kind, kind, {"zone": "lobby"}, scene)
        with pytest.raises(ValidationError):
            build_app(kind, kind, {"min_seconds": 0}, scene)


def test_frames_without_pixels_are_refused():
    app = build_app("abandoned_object", "a", {}, Scene.build(W, H, class_names=CLASSES))
    with pytest.raises(ValueError, match="needs the frame's pixels"):
        app.process(FrameContext("cam", 0, 0.0, W, H, None), Detections.empty())


def test_a_new_frame_size_or_a_clock_restart_starts_learning_again():
    scene = Scene.build(W, H, class_names=CLASSES)
    app = build_app("abandoned_object", "a", {"min_seconds": 5}, scene)
    clip = Clip(180, bag=lambda i: i >= 60)
    events = []
    for i in range(100):  # 10 s, then a smaller picture and a clock from 0 (a looping file)
        image, tracked = clip.frame(i)
        events += app.process(FrameContext("cam", i, i / FPS, W, H, image), tracked)
    for i in range(180):
        image, tracked = clip.frame(i)
        half = image[::2, ::2].copy()
        events += app.process(FrameContext("cam", i, i / FPS, W // 2, H // 2, half), tracked)
    (event,) = events  # the bag left at 6 s in the second run only: the first was too short
    assert 11.0 <= event.start_time <= 12.5
    assert event.attributes["box"] == pytest.approx([v // 2 for v in BAG], abs=3)
