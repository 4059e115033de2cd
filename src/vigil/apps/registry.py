"""App registry: which `App` a config's ``type:`` names, and how it is built.

A kind resolves, in this order, to

1. a built-in app (in-process, its manifest generated from the class);
2. an app installed from the store (`vigil.appstore.installed`): it runs in its own sandboxed
   process (`vigil.sandbox.SandboxedApp`), its settings checked against its manifest's JSON
   Schema, and the settings that schema marks as zones, lines or classes against the scene;
3. a ``vigil.apps`` entry point installed in Vigil's own Python environment: in-process and
   fully trusted — meant for developers working on an app, not for third-party code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from vigil.apps.abandoned import AbandonedObject, ObjectRemoved
from vigil.apps.base import SDK_VERSION, App, Scene
from vigil.apps.crowding import Crowding
from vigil.apps.intrusion import Intrusion
from vigil.apps.line_crossing import LineCrossing
from vigil.apps.loitering import Loitering
from vigil.apps.manifest import ENTRY_POINT_GROUP, AppManifest, manifest_for_class
from vigil.apps.occupancy import Occupancy
from vigil.apps.stopped_vehicle import StoppedVehicle
from vigil.apps.wrong_way import WrongWay
from vigil.appstore import installed as store  # module import: vigil.appstore imports vigil.apps

if TYPE_CHECKING:
    from vigil.appstore.installed import InstalledApp

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
    )
}

Origin = Literal["builtin", "store", "entry_point"]


@dataclass(frozen=True)
class AvailableApp:
    """An app a config may name: its manifest and where it comes from."""

    manifest: AppManifest
    origin: Origin


def _plugin_names() -> list[str]:
    return [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]


def known_kinds() -> list[str]:
    """Built-in kinds, installed store apps and ``vigil.apps`` entry points, sorted."""
    return sorted(set(BUILTIN_APPS) | set(store.installed_apps()) | set(_plugin_names()))


def _store_app(kind: str) -> InstalledApp | None:
    return None if kind in BUILTIN_APPS else store.installed_apps().get(kind)


def get_app_class(kind: str) -> type[App]:
    """The in-process `App` class for `kind`: a built-in, else a ``vigil.apps`` entry point.

    Unknown kind → ValueError listing the known kinds. A plugin that is not an `App`
    subclass, or was written for another major SDK version, → ValueError. A store app has no
    class in this process (it runs sandboxed): use `build_app` / `app_manifest`.
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
    if _store_app(kind) is not None:
        raise ValueError(f"app {kind!r} is a store app: it runs sandboxed, not in-process")
    raise ValueError(f"unknown app kind {kind!r} (known: {', '.join(known_kinds())})")


def app_manifest(kind: str) -> AvailableApp:
    """The manifest of app `kind` and its origin (ValueError if unknown, as `get_app_class`)."""
    if kind in BUILTIN_APPS:
        return AvailableApp(manifest_for_class(BUILTIN_APPS[kind]), "builtin")
    installed = _store_app(kind)
    if installed is not None:
        return AvailableApp(installed.manifest, "store")
    cls = get_app_class(kind)
    return AvailableApp(manifest_for_class(cls, vendor=cls.__module__.split(".")[0]), "entry_point")


def available_apps() -> dict[str, AvailableApp]:
    """Every app a config may name, by kind. A broken entry point is left out (naming it in a
    config reports why)."""
    apps = {}
    for kind in known_kinds():
        try:
            apps[kind] = app_manifest(kind)
        except ValueError:
            continue
    return apps


def _validated(cls: type[App], settings: Mapping[str, Any] | BaseModel | None) -> BaseModel:
    if isinstance(settings, cls.Settings):
        return settings
    if isinstance(settings, BaseModel):
        settings = settings.model_dump()
    return cls.Settings.model_validate(dict(settings or {}))


def _plain(settings: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    if isinstance(settings, BaseModel):
        return settings.model_dump(mode="json")
    return dict(settings or {})


def build_app(
    kind: str, name: str, settings: Mapping[str, Any] | BaseModel | None, scene: Scene
) -> App:
    """Instantiate app `kind` named `name` with `settings` validated by its ``Settings`` model
    (in-process apps) or its manifest's settings schema (store apps, started sandboxed).

    pydantic's ``ValidationError`` propagates (the config layer reports its key path); a bad
    store-app setting or a reference to an unknown zone/line/class raises ValueError naming it.
    """
    installed = _store_app(kind)
    if installed is not None:
        plain = _plain(settings)
        installed.manifest.check_settings(plain, scene)
        from vigil.sandbox import SandboxedApp  # imported lazily: only store apps need it

        return SandboxedApp(installed, name, plain, scene)
    cls = get_app_class(kind)
    return cls(name, _validated(cls, settings), scene)


def check_app(
    kind: str, name: str, settings: Mapping[str, Any] | BaseModel | None, scene: Scene
) -> None:
    """Validate what `build_app` would build, without starting anything: in-process apps are
    built once, store apps are checked against their manifest's settings schema; zone, line
    and class references are checked against `scene` either way (a store app's through the
    fields its schema marks: `vigil.apps.ZoneName`…)."""
    installed = _store_app(kind)
    if installed is not None:
        installed.manifest.check_settings(_plain(settings), scene)
    else:
        build_app(kind, name, settings, scene)
