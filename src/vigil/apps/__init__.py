"""Apps: analytics that turn tracked objects into events (SDK in `vigil.apps.base`).

Built-in kinds: ``intrusion``, ``line_crossing``, ``loitering``, ``occupancy``,
``stopped_vehicle``, ``wrong_way``, ``crowding``; on pixels ``abandoned_object`` and
``object_removed``. Build one with
``build_app(kind, name, settings_dict, scene)``.
"""

from vigil.apps.base import (
    SDK_VERSION,
    App,
    AppSettings,
    ClassName,
    FrameContext,
    LineName,
    Scene,
    ZoneName,
)

# The registry imports every built-in app (OpenCV with them): loaded on first use, so that a
# store app importing the SDK in its sandbox maps none of it into its address-space limit.
_REGISTRY_NAMES = frozenset({"BUILTIN_APPS", "build_app", "get_app_class", "known_kinds"})


def __getattr__(name: str) -> object:
    if name in _REGISTRY_NAMES:
        from vigil.apps import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'vigil.apps' has no attribute {name!r}")


__all__ = [
    "BUILTIN_APPS",
    "SDK_VERSION",
    "App",
    "AppSettings",
    "ClassName",
    "FrameContext",
    "LineName",
    "Scene",
    "ZoneName",
    "build_app",
    "get_app_class",
    "known_kinds",
]
