"""The app SDK: what an analytics app imports to turn tracked objects into events.

The contract (writing, packaging and versioning an app) is `vigil.apps.base`'s; its public
names are imported from here. An app's manifest (``vigil-app.json``) is `vigil.apps.manifest`.
The built-in apps (`vigil.apps.registry.BUILTIN_APPS`) are written against the same SDK; the
registry a site sees, which adds the apps installed from the store, is
`vigil.appstore.registry`.
"""

from vigil.apps.base import (
    MAX_STATE_BYTES,
    SDK_VERSION,
    App,
    AppSettings,
    ClassName,
    FrameContext,
    LineName,
    Scene,
    ZoneName,
)

__all__ = [
    "MAX_STATE_BYTES",
    "SDK_VERSION",
    "App",
    "AppSettings",
    "ClassName",
    "FrameContext",
    "LineName",
    "Scene",
    "ZoneName",
]
