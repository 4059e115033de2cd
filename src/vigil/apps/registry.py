"""App registry: built-in apps by kind, plus third-party apps from ``vigil.apps`` entry points."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from vigil.apps.base import SDK_VERSION, App, Scene
from vigil.apps.crowding import Crowding
from vigil.apps.intrusion import Intrusion
from vigil.apps.line_crossing import LineCrossing
from vigil.apps.loitering import Loitering
from vigil.apps.occupancy import Occupancy
from vigil.apps.stopped_vehicle import StoppedVehicle
from vigil.apps.wrong_way import WrongWay

ENTRY_POINT_GROUP = "vigil.apps"

BUILTIN_APPS: dict[str, type[App]] = {
    cls.kind: cls
    for cls in (Intrusion, LineCrossing, Loitering, Occupancy, StoppedVehicle, WrongWay, Crowding)
}


def _plugin_names() -> list[str]:
    return [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]


def known_kinds() -> list[str]:
    """Built-in kinds plus the names of installed ``vigil.apps`` entry points, sorted."""
    return sorted(set(BUILTIN_APPS) | set(_plugin_names()))


def get_app_class(kind: str) -> type[App]:
    """The `App` class for `kind`: built-ins first, then ``vigil.apps`` entry points.

    Unknown kind → ValueError listing the known kinds. A plugin that is not an `App`
    subclass, or was written for another major SDK version, → ValueError.
    """
    if kind in BUILTIN_APPS:
        return BUILTIN_APPS[kind]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != kind:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not crash with a traceback
            raise ValueError(f"app {kind!r} from {ep.value!r} failed to load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, App)):
            raise ValueError(f"app {kind!r} from {ep.value!r} is not a vigil.apps.App subclass")
        wanted = str(getattr(cls, "sdk_version", SDK_VERSION)).split(".")[0]
        if wanted != SDK_VERSION.split(".")[0]:
            raise ValueError(
                f"app {kind!r} needs app SDK {cls.sdk_version}, this Vigil has {SDK_VERSION}"
            )
        return cls
    raise ValueError(f"unknown app kind {kind!r} (known: {', '.join(known_kinds())})")


def build_app(
    kind: str, name: str, settings: Mapping[str, Any] | BaseModel | None, scene: Scene
) -> App:
    """Instantiate app `kind` named `name` with `settings` validated by its ``Settings`` model.

    pydantic's ``ValidationError`` propagates (the config layer reports its key path); a
    reference to an unknown zone/line/class raises ValueError naming it.
    """
    cls = get_app_class(kind)
    if isinstance(settings, cls.Settings):
        validated = settings
    else:
        if isinstance(settings, BaseModel):
            settings = settings.model_dump()
        validated = cls.Settings.model_validate(dict(settings or {}))
    return cls(name, validated, scene)
