"""What a principal is served of a camera: masked or not, now; and the audit of it.

Every route that serves pixels (live view, frames, snapshots, clips, playback, exports)
asks `privacy_view` first and masks what it says, and records what it served with
`audit_view`. The camera's policy (`vigil.config.privacy.PrivacySettings`) names the roles
served masked footage; a lift (`vigil.auth.lifts`: a user with the ``unmask`` permission, a
reason, a time limit, maybe a second admin's approval) unmasks one camera for one user for a
while. Static masks apply to everyone, always.

The single-picture routes (live, snapshot) serve a lifted user unmasked only when asked
(``?unmasked=true``, `requested_view`), so an unmasked picture is always a deliberate,
audited request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from vigil.api.state import ServiceState
from vigil.auth.lifts import LiftStore
from vigil.auth.policy import audit
from vigil.auth.principal import Principal
from vigil.config.privacy import PrivacySettings
from vigil.events.event import Event
from vigil.privacy.masking import mask_snapshot
from vigil.service.messages import LiveFrame

__all__ = [
    "VIEW_AUDIT_EVERY_S",
    "PrivacyView",
    "audit_view",
    "camera_privacy",
    "event_box",
    "lift_store",
    "live_jpeg",
    "privacy_view",
    "requested_view",
    "snapshot_jpeg",
    "view_detail",
]

VIEW_AUDIT_EVERY_S = 60.0  # a repeated view (a polled picture) is audited at most this often


@dataclass(frozen=True)
class PrivacyView:
    camera: str
    settings: PrivacySettings
    mask_objects: bool  # the tracked classes in `settings.mask` are masked for this principal
    lift: str | None = None  # the active lift that unmasked them (for the audit log)
    reason: str | None = None  # the lift's reason

    @property
    def masks_anything(self) -> bool:
        return self.mask_objects or bool(self.settings.static)

    @property
    def unmasked_picture(self) -> bool:
        """Served the camera's live picture without object masks, which its worker makes
        only while someone entitled to it watches (`LiveViewers`)."""
        return bool(self.settings.mask) and not self.mask_objects


def lift_store(state: ServiceState) -> LiftStore:
    """The lifts, in the service's database, on the service's clock."""
    return LiftStore(state.events.database, clock=state.clock)


def privacy_view(state: ServiceState, principal: Principal, camera_id: str) -> PrivacyView:
    """How `camera_id` is served to `principal` now: masked as the policy says for the
    principal's role, unless the principal has a lift in effect on it (and still holds the
    ``unmask`` permission)."""
    settings = camera_privacy(state, camera_id)
    masked = settings.masks_objects_for(principal.role)
    if masked and principal.may_unmask(camera_id):
        lift = lift_store(state).active(camera_id, principal.username)
        if lift is not None:
            return PrivacyView(camera_id, settings, False, str(lift.id), lift.reason)
    return PrivacyView(camera_id, settings, masked)


def requested_view(
    state: ServiceState, principal: Principal, camera_id: str, unmasked: bool
) -> PrivacyView:
    """The view of a single-picture route: a lifted user is served unmasked only when the
    request asks (``?unmasked=true``); asking without a lift is refused (403)."""
    view = privacy_view(state, principal, camera_id)
    if unmasked and view.mask_objects:
        raise HTTPException(
            403,
            f"camera {camera_id!r}: masks not lifted for {principal.username!r} "
            f"(POST /api/cameras/{camera_id}/lift with a reason)",
        )
    if not unmasked and view.lift is not None:
        return replace(view, mask_objects=True, lift=None, reason=None)
    return view


def live_jpeg(frame: LiveFrame, view: PrivacyView) -> bytes:
    """The live JPEG `view` may be served: masked unless its objects are not masked for it
    and the worker made an unmasked one (static masks are in both)."""
    return frame.for_view(view.mask_objects)


def snapshot_jpeg(path: Path, view: PrivacyView) -> bytes:
    """An event snapshot (the unmasked record on disk) as `view` may be served."""
    if not view.masks_anything:
        return path.read_bytes()
    return mask_snapshot(path, view.settings, objects=view.mask_objects)


def event_box(event: Event) -> list[float] | None:
    """The event object's box at its snapshot (x1, y1, x2, y2 pixels), if the worker gave
    it (the event's ``box`` attribute)."""
    box = event.attributes.get("box")
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        return None
    return [float(v) for v in box]


def camera_privacy(state: ServiceState, camera_id: str) -> PrivacySettings:
    """The camera's policy as running (none for a camera the site no longer has)."""
    site = state.site
    if site is not None:
        for camera in site.cameras:
            if camera.id == camera_id:
                return camera.privacy
    return PrivacySettings()


class _ViewThrottle:
    """When each (user, what, target, masked, lift) view was last audited."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, ...], float] = {}

    def due(self, key: tuple[str, ...], every_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -float("inf")) < every_s:
                return False
            if len(self._last) > 10_000:  # forget the old ones
                self._last = {k: t for k, t in self._last.items() if now - t < every_s}
            self._last[key] = now
            return True


_throttle_lock = threading.Lock()


def _throttle(connection: HTTPConnection) -> _ViewThrottle:
    app_state = connection.app.state
    with _throttle_lock:
        throttle = getattr(app_state, "privacy_view_audit", None)
        if not isinstance(throttle, _ViewThrottle):
            throttle = app_state.privacy_view_audit = _ViewThrottle()
        return throttle


def view_detail(view: PrivacyView) -> dict[str, Any]:
    """What an audit row of served footage says of its masking: masked or not, and the
    lift (id and reason) that unmasked it."""
    if view.lift is None:
        return {"masked": view.mask_objects}
    return {"masked": view.mask_objects, "lift": view.lift, "reason": view.reason}


def audit_view(
    request: HTTPConnection,
    principal: Principal,
    view: PrivacyView,
    what: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    *,
    every_s: float = 0.0,
) -> None:
    """Record in the audit log that `principal` was served `what` (``live``, ``snapshot``,
    ``playback``, ``clip``, ``export``...) of a camera with a privacy policy, masked or
    not, and why (the lift and its reason); `target`: the event, segment or export, and
    `detail` the time range. Footage of a camera without a policy is not recorded here.
    `every_s` > 0: the same view again within that time is not recorded again (a polled
    picture)."""
    if not view.settings.mask and not view.settings.static:
        return
    key = (principal.username, what, view.camera, target, str(view.mask_objects), view.lift or "")
    if every_s > 0 and not _throttle(request).due(key, every_s):
        return
    record = {"camera": view.camera, "what": what, **view_detail(view), **(detail or {})}
    audit(request, principal, "privacy.view", target or view.camera, record)
