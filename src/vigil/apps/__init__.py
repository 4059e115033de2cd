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
from vigil.apps.registry import BUILTIN_APPS, build_app, get_app_class, known_kinds

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
