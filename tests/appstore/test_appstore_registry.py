"""The registry a site sees (`vigil.appstore.registry`): built-in and entry-point apps from
`vigil.apps.registry`, plus the apps installed from the store, checked against their
manifest's settings schema and the scene and started sandboxed."""

import json
import sys
from pathlib import Path
from typing import ClassVar

import pytest

import vigil.apps.registry as in_process
from vigil.apps import App, AppSettings, Scene
from vigil.apps.manifest import load_manifest
from vigil.appstore import registry
from vigil.appstore.installed import InstallRecord, version_dir, write_records
from vigil.config.loader import load_config_text
from vigil.detection.classes import COCO_CLASSES
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


@pytest.fixture
def scene() -> Scene:
    return Scene.build(
        1000,
        1000,
        zones=[
            Zone("square", [(200, 200), (600, 200), (600, 600), (200, 600)]),
            Zone("road", [(0, 0.4), (1, 0.4), (1, 0.8), (0, 0.8)]),
        ],
        lines=[Line("door", (0, 500), (1000, 500))],
        class_names=COCO_CLASSES,
    )


def record_installed(root: Path) -> None:
    """Record the example app as installed (manifest and installed.json, as the installer
    leaves them; its site dir stays empty: nothing here may start it)."""
    manifest = load_manifest(EXAMPLE_MANIFEST)
    vdir = version_dir(root, manifest.id, manifest.version)
    (vdir / "site").mkdir(parents=True)
    (vdir / "manifest.json").write_text(manifest.model_dump_json())
    record = InstallRecord(manifest.version, "0" * 64, "test", None, "2026-01-01T00:00:00+00:00")
    write_records({manifest.id: record}, root)


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
        registry.get_app_class("queue_length")
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
        registry.build_app("queue_length", "q", {"zone": "square", "max_wait": -5}, scene)


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
        registry.build_app("queue_length", "q", {"zone": "lobby"}, scene)  # before a sandbox starts
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


class _Plugin(App):
    kind: ClassVar[str] = "plugin"
    Settings = AppSettings
    emits: ClassVar[tuple[str, ...]] = ("hello",)


class _EP:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"tests:{name}", obj

    def load(self):
        return self._obj


def test_entry_point_apps_are_listed_and_broken_ones_left_out(monkeypatch):
    eps = [_EP("plugin", _Plugin), _EP("junk", object)]
    monkeypatch.setattr(
        in_process, "entry_points", lambda group: eps if group == "vigil.apps" else []
    )
    available = registry.available_apps()
    assert "junk" not in available
    assert available["plugin"].origin == "entry_point"
    assert available["plugin"].manifest.events == ["hello"]
    with pytest.raises(ValueError, match=r"^unknown app kind 'nothing' \(known: .*plugin"):
        registry.get_app_class("nothing")
