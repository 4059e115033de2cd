"""``vigil apps new``: a new app project that builds, tests and publishes as it is.

The project is a Python distribution: ``pyproject.toml`` (with the ``vigil.apps`` entry point
and the manifest as package data), ``src/<id>/app.py`` (an `App` subclass that counts objects
in a zone, to be edited), ``src/<id>/vigil-app.json`` (generated from the class) and a test.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

from vigil.apps.manifest import MANIFEST_FILENAME, manifest_for_class
from vigil.appstore import AppStoreError

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "vigil-{dist}"
version = "0.1.0"
description = "A Vigil app."
requires-python = ">=3.11"
# numpy and pydantic come from Vigil; any other dependency must be published with the app
# (vigil store publish --with DEP.whl).
dependencies = []

[project.entry-points."vigil.apps"]
{id} = "{id}.app:{cls}"

[tool.setuptools.package-data]
{id} = ["{manifest}"]
"""

_APP = '''\
"""``{id}``: how many objects of some classes are in a zone (edit me)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vigil.apps import App, AppSettings, ClassName, FrameContext, Scene, ZoneName
from vigil.detection import Detections
from vigil.events.event import Event


class {cls}Settings(AppSettings):
    # ZoneName, LineName, ClassName: Vigil checks these names against the camera's scene.
    zone: ZoneName = Field(description="the zone to watch")
    classes: list[ClassName] = Field(default_factory=lambda: ["person"])


class {cls}(App):
    """Counts objects in a zone; emits a ``count`` event when the count changes."""

    kind: ClassVar[str] = "{id}"
    Settings = {cls}Settings
    emits: ClassVar[tuple[str, ...]] = ("count",)

    def __init__(self, name: str, settings: {cls}Settings, scene: Scene):
        super().__init__(name, settings, scene)
        self.zone = scene.zone(settings.zone)
        self.class_ids = scene.class_ids(settings.classes)
        self.count = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        objects = self.select(objects, self.class_ids)
        count = int(self.zone.contains(objects.anchors).sum())
        if count == self.count:
            return []
        self.count = count
        return [self.event(ctx, "count", zone=self.zone.name, attributes={{"count": count}})]

    def counters(self) -> dict[str, float]:
        return {{"count": self.count}}
'''

_TEST = '''\
"""Run with ``PYTHONPATH=src pytest`` (Vigil installed)."""

from pathlib import Path

import numpy as np
from {id}.app import {cls}

from vigil.apps import FrameContext, Scene
from vigil.apps.manifest import MANIFEST_FILENAME, load_manifest, manifest_for_class
from vigil.detection import Detections
from vigil.geometry import Zone


def test_counts_objects_in_the_zone():
    zone = Zone("z", [(0, 0), (50, 0), (50, 100), (0, 100)])
    scene = Scene.build(100, 100, [zone], (), ["person"])
    app = {cls}("a", {cls}.Settings(zone="z"), scene)
    boxes = Detections(np.array([[10, 10, 20, 60], [70, 10, 80, 60]]), [0.9, 0.9], [0, 0], [1, 2])
    (event,) = app.process(FrameContext("cam", 0, 0.0, 100, 100), boxes)
    assert (event.type, event.attributes) == ("count", {{"count": 1}})


def test_manifest_matches_the_class():
    path = Path(__file__).parents[1] / "src" / "{id}" / MANIFEST_FILENAME
    manifest, generated = load_manifest(path), manifest_for_class({cls})
    for key in ("id", "settings_schema", "events", "data", "entry_point"):
        assert getattr(manifest, key) == getattr(generated, key), key
'''


def _load_class(path: Path, module: str, cls: str) -> type:
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod  # dataclass/pydantic introspection looks the module up
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules[module]
    return getattr(mod, cls)


def wheel_command(directory: Path) -> str:
    """The command that builds the project's wheel into ``DIRECTORY/dist`` with what the
    Quickstart's environment has: `build`, and setuptools (the locked install's build
    backend) instead of an isolated environment, so it needs no network."""
    dist = shlex.quote(str(directory / "dist"))
    return f"python -m build --wheel --no-isolation --outdir {dist} {shlex.quote(str(directory))}"


def new_app(app_id: str, directory: Path, vendor: str) -> Path:
    """Create the project for app `app_id` in `directory` (must not exist or be empty)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", app_id):
        raise AppStoreError(f"app id {app_id!r}: use lower-case letters, digits and _")
    if directory.exists() and any(directory.iterdir()):
        raise AppStoreError(f"{directory}: already exists and is not empty")
    cls = "".join(part.capitalize() for part in app_id.split("_"))
    fields = {"id": app_id, "cls": cls, "dist": app_id.replace("_", "-")}
    package = directory / "src" / app_id
    package.mkdir(parents=True)
    (directory / "tests").mkdir()
    (directory / "pyproject.toml").write_text(
        _PYPROJECT.format(manifest=MANIFEST_FILENAME, **fields)
    )
    (package / "__init__.py").write_text(f'"""Vigil app {app_id}."""\n')
    (package / "app.py").write_text(_APP.format(**fields))
    (directory / "tests" / f"test_{app_id}.py").write_text(_TEST.format(**fields))
    app_cls = _load_class(package / "app.py", f"{app_id}.app", cls)
    manifest = manifest_for_class(
        app_cls, vendor=vendor, version="0.1.0", name=app_id.replace("_", " ").capitalize()
    )
    (package / MANIFEST_FILENAME).write_text(manifest.model_dump_json(indent=2) + "\n")
    return directory
