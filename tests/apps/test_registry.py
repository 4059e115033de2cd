import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

import vigil.apps.registry as registry
from vigil.apps import SDK_VERSION, App, AppSettings, FrameContext, Scene
from vigil.apps.registry import BUILTIN_APPS, build_app, get_app_class
from vigil.detection.detections import Detections
from vigil.geometry import Line, Zone

KINDS = [
    "abandoned_object",
    "crowding",
    "intrusion",
    "line_crossing",
    "loitering",
    "object_removed",
    "occupancy",
    "queue",
    "speeding",
    "stopped_vehicle",
    "wrong_way",
    "zone_transit",
]
PIXEL_KINDS = {"abandoned_object", "object_removed"}
MINIMAL = {
    "abandoned_object": {},
    "crowding": {},
    "intrusion": {"zone": "square"},
    "line_crossing": {"line": "door"},
    "loitering": {"zone": "square"},
    "object_removed": {},
    "occupancy": {},
    "queue": {"zone": "square"},
    "speeding": {"zone": "lane"},
    "stopped_vehicle": {},
    "wrong_way": {"angle": 90},
    "zone_transit": {"zone": "square"},
}


def test_sdk_version_and_builtin_kinds():
    assert SDK_VERSION == "1.3.0"
    assert sorted(BUILTIN_APPS) == KINDS
    for kind, cls in BUILTIN_APPS.items():
        assert cls.kind == kind
        assert issubclass(cls, App) and cls.emits
        assert cls.needs_pixels is (kind in PIXEL_KINDS)
        assert cls.Settings.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("kind", KINDS)
def test_every_builtin_builds_with_minimal_settings_and_handles_empty_frames(kind, scene):
    app = build_app(kind, f"my_{kind}", MINIMAL[kind], scene)
    assert app.name == f"my_{kind}"
    image = np.zeros((1000, 1000, 3), np.uint8) if kind in PIXEL_KINDS else None
    ctx = FrameContext("cam", 0, 0.0, 1000, 1000, image)
    events = app.process(ctx, Detections.empty())
    if kind in ("occupancy", "queue"):  # a count sample at the first frame
        assert [(e.type, e.attributes["count"]) for e in events] == [(kind, 0)]
    else:
        assert events == []
    assert app.finish(ctx) == []
    assert all(isinstance(v, float) for v in app.counters().values())


def test_unknown_kind_lists_known_kinds():
    with pytest.raises(ValueError) as exc:
        get_app_class("teleport")
    assert str(exc.value) == f"unknown app kind 'teleport' (known: {', '.join(KINDS)})"


def test_settings_errors_propagate_as_validation_errors_with_the_key(scene):
    with pytest.raises(ValidationError) as exc:
        build_app("loitering", "x", {"zone": "square", "min_secs": 3}, scene)
    assert exc.value.errors()[0]["loc"] == ("min_secs",)
    assert exc.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as exc:
        build_app("loitering", "x", {"zone": "square", "min_seconds": -1}, scene)
    assert exc.value.errors()[0]["loc"] == ("min_seconds",)
    with pytest.raises(ValidationError) as exc:
        build_app("intrusion", "x", {}, scene)
    assert exc.value.errors()[0]["loc"] == ("zone",)


def test_unknown_references_are_value_errors(scene):
    with pytest.raises(ValueError, match=r"^unknown zone 'lobby' \(known: lane, road, square\)$"):
        build_app("intrusion", "x", {"zone": "lobby"}, scene)
    with pytest.raises(ValueError, match=r"^unknown class 'persn'$"):
        build_app("intrusion", "x", {"zone": "square", "classes": ["persn"]}, scene)
    with pytest.raises(ValueError, match=r"^unknown class id 80$"):
        build_app("intrusion", "x", {"zone": "square", "classes": [80]}, scene)


def test_classes_by_name_or_id(scene):
    app = build_app("intrusion", "x", {"zone": "square", "classes": ["Car", 0, "truck"]}, scene)
    assert app.class_ids.tolist() == [0, 2, 7]


def test_prevalidated_settings_are_accepted(scene):
    cls = get_app_class("loitering")
    settings = cls.Settings(zone="square", min_seconds=3)
    assert build_app("loitering", "x", settings, scene).settings is settings
    with pytest.raises(TypeError):
        cls("x", get_app_class("occupancy").Settings(), scene)


class _PluginSettings(AppSettings):
    greeting: str = "hi"


class _Plugin(App):
    kind: ClassVar[str] = "plugin"
    Settings = _PluginSettings
    emits: ClassVar[tuple[str, ...]] = ("hello",)

    def process(self, ctx, objects):
        return [self.event(ctx, "hello", attributes={"n": len(objects)})]


class _OldPlugin(_Plugin):
    sdk_version: ClassVar[str] = "0.9.0"


class _EP:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"tests:{name}", obj

    def load(self):
        return self._obj


def test_entry_point_apps(monkeypatch, scene):
    eps = [_EP("plugin", _Plugin), _EP("old", _OldPlugin), _EP("junk", object)]
    monkeypatch.setattr(
        registry, "entry_points", lambda group: eps if group == "vigil.apps" else []
    )
    app = build_app("plugin", "p", {"greeting": "yo"}, scene)
    (ev,) = app.process(FrameContext("cam", 3, 0.3, 1000, 1000), Detections.empty())
    assert (ev.app, ev.type, ev.frame_index, ev.attributes) == ("p", "hello", 3, {"n": 0})
    with pytest.raises(ValueError, match="needs app SDK 0.9.0, this Vigil has 1.3.0"):
        get_app_class("old")
    with pytest.raises(ValueError, match="is not a vigil.apps.App subclass"):
        get_app_class("junk")
    assert registry.known_kinds() == sorted([*KINDS, "junk", "old", "plugin"])
    with pytest.raises(
        ValueError, match=r"known: abandoned_object, crowding, intrusion, junk, line_crossing"
    ):
        get_app_class("nothing")


def test_scene_build_resolves_normalised_shapes_and_rejects_duplicates():
    scene = Scene.build(
        640,
        480,
        zones=[Zone("road", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)])],
        lines=[Line("l", (0.0, 0.25), (1.0, 0.25))],
        class_names=["person"],
    )
    assert scene.zone("road").points == ((0.0, 240.0), (640.0, 240.0), (640.0, 480.0), (0.0, 480.0))
    assert scene.zone("road").frame_size == (640, 480)
    assert (scene.line("l").start, scene.line("l").end) == ((0.0, 120.0), (640.0, 120.0))
    assert scene.class_name(0) == "person" and scene.class_name(5) == "5"
    assert scene.class_ids([]) is None
    with pytest.raises(ValueError, match="^duplicate zone name 'a'$"):
        Scene.build(10, 10, zones=[Zone("a", [(0, 0), (5, 0), (5, 5)])] * 2)
    with pytest.raises(ValueError, match=r"^unknown line 'x' \(known: none defined\)$"):
        Scene.build(10, 10).line("x")


def test_select_keeps_tracked_objects_of_the_classes_once():
    det = Detections(
        xyxy=np.zeros((5, 4)),
        confidence=np.ones(5),
        class_id=[0, 0, 2, 0, 0],
        tracker_id=[1, -1, 2, 1, 3],
    )
    sel = App.select(det, np.array([0]))
    assert sel.tracker_id.tolist() == [1, 3]
    assert App.select(det).tracker_id.tolist() == [1, 2, 3]


def test_frame_context_from_frame():
    from vigil.sources.frame import Frame

    img = np.zeros((48, 64, 3), np.uint8)
    frame = Frame("cam", 7, 0.28, img)
    assert FrameContext.from_frame(frame) == FrameContext("cam", 7, 0.28, 64, 48, None)
    assert FrameContext.from_frame(frame, with_image=True).image is img


def test_the_sdk_imports_neither_the_app_store_nor_the_sandbox():
    """`vigil.apps` is the SDK and the built-in apps: the store's apps are resolved and
    sandboxed above it (`vigil.appstore.registry`), so importing all of it loads neither."""
    code = (
        "import pkgutil, importlib, sys, vigil.apps\n"
        "for m in pkgutil.iter_modules(vigil.apps.__path__): importlib.import_module('vigil.apps.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('vigil.appstore', 'vigil.sandbox'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
