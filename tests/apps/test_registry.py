import json
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

import vigil.apps.registry as registry
from vigil.apps import (
    BUILTIN_APPS,
    SDK_VERSION,
    App,
    AppSettings,
    FrameContext,
    Scene,
    build_app,
    get_app_class,
)
from vigil.apps.manifest import load_manifest
from vigil.appstore.installed import InstallRecord, version_dir, write_records
from vigil.config.loader import load_config_text
from vigil.detection.detections import Detections
from vigil.errors import ConfigError
from vigil.geometry import Line, Zone
from vigil.pipeline.build import validate_apps

EXAMPLE_MANIFEST = (
    Path(__file__).resolve().parents[2]
    / "examples/apps/queue_length/src/queue_length/vigil-app.json"
)


@pytest.fixture(autouse=True)
def apps_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store apps root: the user's installed apps never leak into these tests."""
    monkeypatch.setenv("VIGIL_APPS_DIR", str(tmp_path / "apps"))
    return tmp_path / "apps"


def record_installed(root: Path) -> None:
    """Record the example app as installed (manifest and installed.json, as the installer
    leaves them; its site dir stays empty: nothing here may start it)."""
    manifest = load_manifest(EXAMPLE_MANIFEST)
    vdir = version_dir(root, manifest.id, manifest.version)
    (vdir / "site").mkdir(parents=True)
    (vdir / "manifest.json").write_text(manifest.model_dump_json())
    record = InstallRecord(manifest.version, "0" * 64, "test", None, "2026-01-01T00:00:00+00:00")
    write_records({manifest.id: record}, root)


KINDS = [
    "abandoned_object",
    "crowding",
    "intrusion",
    "line_crossing",
    "loitering",
    "object_removed",
    "occupancy",
    "stopped_vehicle",
    "wrong_way",
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
    "stopped_vehicle": {},
    "wrong_way": {"angle": 90},
}


def test_sdk_version_and_builtin_kinds():
    assert SDK_VERSION == "1.1.0"
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
    if kind == "occupancy":  # a count sample at the first frame
        assert [(e.type, e.attributes["count"]) for e in events] == [("occupancy", 0)]
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
    with pytest.raises(ValueError, match=r"^unknown zone 'lobby' \(known: road, square\)$"):
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
    with pytest.raises(ValueError, match="needs app SDK 0.9.0, this Vigil has 1.1.0"):
        get_app_class("old")
    with pytest.raises(ValueError, match="is not a vigil.apps.App subclass"):
        get_app_class("junk")
    available = registry.available_apps()  # broken plugins are left out of the listing
    assert "old" not in available and "junk" not in available
    assert available["plugin"].origin == "entry_point"
    assert available["plugin"].manifest.events == ["hello"]
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


def test_store_apps_resolve_after_builtins_and_are_checked_against_their_schema(
    apps_root, scene, monkeypatch
):
    record_installed(apps_root)
    assert "queue_length" in registry.known_kinds()
    available = registry.available_apps()
    assert available["queue_length"].origin == "store"
    assert available["occupancy"].origin == "builtin"
    assert available["occupancy"].manifest.vendor == "Vigil"
    with pytest.raises(ValueError, match="'queue_length' is a store app: it runs sandboxed"):
        get_app_class("queue_length")
    # Checking starts nothing: with the sandbox unimportable, a check still works.
    monkeypatch.setitem(sys.modules, "vigil.sandbox", None)
    registry.check_app("queue_length", "q", {"zone": "square", "max_wait": 5}, scene)
    with pytest.raises(
        ValueError, match=r"^settings\.max_wait: -5 is less than or equal to the minimum of 0$"
    ):
        registry.check_app("queue_length", "q", {"zone": "square", "max_wait": -5}, scene)
    with pytest.raises(
        ValueError, match=r"^settings\.max_wait: -5 is less than or equal to the minimum of 0$"
    ):
        build_app("queue_length", "q", {"zone": "square", "max_wait": -5}, scene)


def test_validate_apps_checks_store_app_settings_without_starting_them(
    apps_root, tmp_path, monkeypatch
):
    record_installed(apps_root)
    monkeypatch.setitem(sys.modules, "vigil.sandbox", None)
    yaml = "zones:\n  queue: {points: [[0, 0], [1, 0], [1, 1]]}\napps:\n  - type: queue_length\n"
    validate_apps(load_config_text(yaml + "    settings: {zone: queue}\n", "site.yaml"))
    bad = load_config_text(yaml + "    settings: {zone: queue, report_interval: 0}\n", "site.yaml")
    with pytest.raises(ConfigError) as err:
        validate_apps(bad)
    assert str(err.value) == (
        "site.yaml: apps[0]: settings.report_interval: 0 is less than or equal to the minimum of 0"
    )
    lobby = load_config_text(yaml + "    settings: {zone: lobby}\n", "site.yaml")
    with pytest.raises(ConfigError) as err:
        validate_apps(lobby)
    assert (
        str(err.value) == "site.yaml: apps[0]: settings.zone: unknown zone 'lobby' (known: queue)"
    )
    assert json.loads((apps_root / "installed.json").read_text())["apps"]["queue_length"]


def test_a_store_apps_zone_line_and_class_references_are_checked_against_the_scene(
    apps_root, scene, monkeypatch
):
    record_installed(apps_root)
    monkeypatch.setitem(sys.modules, "vigil.sandbox", None)  # checking starts nothing
    with pytest.raises(
        ValueError, match=r"^settings\.zone: unknown zone 'lobby' \(known: road, square\)$"
    ):
        registry.check_app("queue_length", "q", {"zone": "lobby"}, scene)
    with pytest.raises(ValueError, match=r"^settings\.classes\[1\]: unknown class 'unicorn'$"):
        registry.check_app("queue_length", "q", {"zone": "road", "classes": [0, "unicorn"]}, scene)
    with pytest.raises(ValueError, match=r"^settings\.zone: unknown zone 'lobby'"):
        build_app("queue_length", "q", {"zone": "lobby"}, scene)  # before a sandbox starts
    registry.check_app("queue_length", "q", {"zone": "road", "classes": ["Car", 7]}, scene)


def test_vigil_apps_enable_refuses_a_store_app_naming_an_unknown_zone(
    apps_root, tmp_path, monkeypatch
):
    from cli.cli_helpers import assert_one_line_error, invoke_vigil

    record_installed(apps_root)
    site = tmp_path / "serve.yaml"
    text = (
        "cameras:\n  - id: gate\n    url: rtsp://127.0.0.1:1/x\n"
        "    zones: {door: {points: [[0, 0], [1, 0], [1, 1]]}}\n"
    )
    site.write_text(text)
    enable = ("apps", "enable", "queue_length", "--camera", "gate", "-c", site)
    r = invoke_vigil(*enable, "--set", "zone=lobby", cwd=tmp_path, models=tmp_path)
    assert_one_line_error(
        r, f"{site}: cameras[0].apps[0]: settings.zone: unknown zone 'lobby' (known: door)"
    )
    assert site.read_text() == text  # nothing written
    r = invoke_vigil(*enable, "--set", "zone=door", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
