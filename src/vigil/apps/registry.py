"""In-process apps: which `App` class a kind names, and building one.

A kind resolves, in this order, to

1. a built-in app (its manifest generated from the class);
2. a ``vigil.apps`` entry point installed in Vigil's own Python environment: in-process and
   fully trusted — meant for developers working on an app, not for third-party code.

Apps installed from the store run sandboxed, not in this process: the registry a site sees,
which adds them, is `vigil.appstore.registry` (the SDK imports neither the app store nor the
sandbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from vigil.apps.abandoned import AbandonedObject, ObjectRemoved
from vigil.apps.base import SDK_VERSION, App, Scene
from vigil.apps.crowding import Crowding
from vigil.apps.intrusion import Intrusion
from vigil.apps.line_crossing import LineCrossing
from vigil.apps.loitering import Loitering
from vigil.apps.manifest import ENTRY_POINT_GROUP
from vigil.apps.occupancy import Occupancy
from vigil.apps.queue import Queue
from vigil.apps.speeding import Speeding
from vigil.apps.stopped_vehicle import StoppedVehicle
from vigil.apps.wrong_way import WrongWay
from vigil.apps.zone_transit import ZoneTransit

BUILTIN_APPS: dict[str, type[App]] = {
    cls.kind: cls
    for cls in (
        Intrusion,
        LineCrossing,
        Loitering,
        Occupancy,
        StoppedVehicle,
        WrongWay,
        Crowding,
        AbandonedObject,
        ObjectRemoved,
        Queue,
        ZoneTransit,
        Speeding,
    )
}


def known_kinds() -> list[str]:
    """Built-in kinds and ``vigil.apps`` entry points, sorted."""
    plugins = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(set(BUILTIN_APPS) | plugins)


def find_app_class(kind: str) -> type[App] | None:
    """The in-process `App` class for `kind` (a built-in, else a ``vigil.apps`` entry point),
    or None when neither names it. A plugin that fails to load, is not an `App` subclass, or
    was written for another major SDK version → ValueError naming it."""
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
    return None


def get_app_class(kind: str) -> type[App]:
    """The in-process `App` class for `kind`, as `find_app_class`; an unknown kind →
    ValueError listing the known kinds."""
    cls = find_app_class(kind)
    if cls is None:
        raise ValueError(f"unknown app kind {kind!r} (known: {', '.join(known_kinds())})")
    return cls


def build_app(
    kind: str, name: str, settings: Mapping[str, Any] | BaseModel | None, scene: Scene
) -> App:
    """Instantiate in-process app `kind` named `name` with `settings` validated by its
    ``Settings`` model; pydantic's ``ValidationError`` propagates (the config layer reports
    its key path), a reference to an unknown zone, line or class raises ValueError naming it."""
    return instantiate(get_app_class(kind), name, settings, scene)


def instantiate(
    cls: type[App], name: str, settings: Mapping[str, Any] | BaseModel | None, scene: Scene
) -> App:
    """``cls(name, settings, scene)`` with `settings` validated by ``cls.Settings`` (an
    instance of it is used as is)."""
    if isinstance(settings, cls.Settings):
        return cls(name, settings, scene)
    if isinstance(settings, BaseModel):
        settings = settings.model_dump()
    return cls(name, cls.Settings.model_validate(dict(settings or {})), scene)
