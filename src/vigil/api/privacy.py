"""What a principal is served of a camera: masked or not, now.

Every route that serves pixels (live view, frames, snapshots, clips, playback, exports)
asks `privacy_view` first and masks what it says. The camera's policy
(`vigil.config.privacy.PrivacySettings`) names the roles served masked footage; a lift (a user
with the ``unmask`` permission, a reason, a time limit) unmasks one camera for one user
for a while. Static masks apply to everyone, always.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.api.state import ServiceState
from vigil.auth.principal import Principal
from vigil.config.privacy import PrivacySettings


@dataclass(frozen=True)
class PrivacyView:
    camera: str
    settings: PrivacySettings
    mask_objects: bool  # the tracked classes in `settings.mask` are masked for this principal
    lift: str | None = None  # the active lift that unmasked them (for the audit log)

    @property
    def masks_anything(self) -> bool:
        return self.mask_objects or bool(self.settings.static)


def privacy_view(state: ServiceState, principal: Principal, camera_id: str) -> PrivacyView:
    """How `camera_id` is served to `principal` now."""
    settings = camera_privacy(state, camera_id)
    return PrivacyView(camera_id, settings, settings.masks_objects_for(principal.role))


def camera_privacy(state: ServiceState, camera_id: str) -> PrivacySettings:
    """The camera's policy as running (none for a camera the site no longer has)."""
    site = state.site
    if site is not None:
        for camera in site.cameras:
            if camera.id == camera_id:
                return camera.privacy
    return PrivacySettings()
