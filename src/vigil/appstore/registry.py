"""Every app a site may name, and building one: the in-process registry
(`vigil.apps.registry`: built-ins, then ``vigil.apps`` entry points) plus the apps installed
from the store (`vigil.appstore.installed`).

A kind resolves to a built-in first, then to an installed store app, then to an entry point.
A store app runs in its own sandboxed process (`vigil.sandbox.SandboxedApp`): its settings
are checked against its manifest's JSON Schema, and the settings that schema marks as zones,
lines or classes against the scene.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from vigil.apps import registry as in_process
from vigil.apps.base import App, Scene
from vigil.apps.manifest import AppManifest, manifest_for_class
from vigil.appstore import installed as store
from vigil.appstore.installed import InstalledApp

Origin = Literal["builtin", "store", "entry_point"]


@dataclass(frozen=True)
class AvailableApp:
    """An app a config may name: its manifest and where it comes from."""

    manifest: AppManifest
    origin: Origin


def known_kinds() -> list[str]:
    """Built-in kinds, installed store apps and ``vigil.apps`` entry points, sorted."""
    return sorted(set(in_process.known_kinds()) | set(store.installed_apps()))


def _store_app(kind: str) -> InstalledApp | None:
    return None if kind in in_process.BUILTIN_APPS else store.installed_apps().get(kind)


def get_app_class(kind: str) -> type[App]:
    """The in-process `App` class for `kind` (`vigil.apps.registry.find_app_class`).

    A store app has no class in this process (it runs sandboxed) → ValueError saying so; an
    unknown kind → ValueError listing every kind a site may name.
    """
    cls = in_process.find_app_class(kind)
    if cls is not None:
        return cls
    if _store_app(kind) is not None:
        raise ValueError(f"app {kind!r} is a store app: it runs sandboxed, not in-process")
    raise ValueError(f"unknown app kind {kind!r} (known: {', '.join(known_kinds())})")


def app_manifest(kind: str) -> AvailableApp:
    """The manifest of app `kind` and its origin (ValueError if unknown, as `get_app_class`)."""
    if kind in in_process.BUILTIN_APPS:
        return AvailableApp(manifest_for_class(in_process.BUILTIN_APPS[kind]), "builtin")
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

        return SandboxedApp(installed.manifest, installed.site_dir, name, plain, scene)
    return in_process.instantiate(get_app_class(kind), name, settings, scene)


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
