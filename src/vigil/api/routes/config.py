"""The live-configuration API: a camera's zones, lines and apps.

Changes are saved to the site YAML with `SiteEditor` (comments kept, checked exactly as
`vigil serve` checks the file, written atomically) and applied by the running service
without a restart (the `SiteControl` of `vigil.api.deps`: the supervisor). Refused input is
a 422 whose ``detail`` is one line naming the key path and the value, as for a bad YAML
file; an edit that races another is a 409 (`EditConflict`, mapped by `create_app`).

* ``GET /api/cameras/{id}/config`` (viewer), ``PUT`` (admin, audited): zones, lines, apps
  (their settings for operators and admins only, as on ``GET /api/apps``).
* ``PUT /api/cameras/{id}/apps/{name}``, ``DELETE`` (admin, audited): one app instance.

The edits and their audit records run in the thread pool (file locks, fsync, the database):
these routes are ``async`` only to await the workers' confirmation without holding a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from vigil.api.deps import Admin, Site, SiteControl, State, Viewer, camera_or_404
from vigil.api.schemas import (
    AUTH_ERRORS,
    SETTINGS_ROLE,
    AppInstanceOut,
    AppInstanceResult,
    ApplyOut,
    AppPut,
    CameraConfigIn,
    CameraConfigOut,
    CameraConfigSaved,
)
from vigil.api.state import ServiceState
from vigil.auth import Principal, audit
from vigil.config.editor import SiteEditor, UnknownCamera
from vigil.config.loader import format_validation_error
from vigil.config.schema import DetectorConfig, Name
from vigil.detection.classes import COCO_CLASSES
from vigil.errors import ConfigError

__all__ = ["APPLY_WAIT_S", "router"]

APPLY_WAIT_S = 5.0  # how long a save waits for the camera's worker to confirm the new scene


class _OneLineErrors(APIRoute):
    """Refuses a request body the way a bad YAML file is refused: 422 with one line naming
    the key path and the value (FastAPI's default is a list of error objects)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field is not None else None

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as err:
                return JSONResponse({"detail": _one_line(err, model)}, status_code=422)

        return route


def _one_line(err: RequestValidationError, model: Any) -> str:
    errors = list(err.errors())
    for error in errors:
        if error["type"] == "json_invalid":
            return f"request body is not valid JSON: {(error.get('ctx') or {}).get('error', '')}"
    details = []
    for error in errors:
        loc = tuple(error["loc"])
        detail: dict[str, Any] = {
            "type": error["type"],
            "loc": loc[1:] if loc[:1] == ("body",) else loc,
            "input": error.get("input"),
        }
        if error.get("ctx"):
            detail["ctx"] = error["ctx"]
        details.append(detail)
    rebuilt = ValidationError.from_exception_data("request", details)  # type: ignore[arg-type]
    body_model = model if isinstance(model, type) and issubclass(model, BaseModel) else None
    return format_validation_error(rebuilt, None, model=body_model)


router = APIRouter(route_class=_OneLineErrors, tags=["config"])

ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    404: {"description": "Unknown camera or app instance"},
    409: {"description": "Another edit is in progress, or the file changed since `revision`"},
    422: {"description": "Refused: one line naming the key path and the value"},
}

# ---------------------------------------------------------------------------------- helpers


def _editor(state: ServiceState, site: SiteControl | None) -> SiteEditor[object]:
    if state.site_file is None or site is None:
        raise HTTPException(
            409, "this service was not started from a site file: nothing to save to"
        )
    return SiteEditor(state.site_file, site.check_site_text)


async def _apply(state: ServiceState, site: SiteControl | None, camera_id: str) -> ApplyOut:
    """Have the running service apply the saved file; for a scene change, wait (a little)
    for the camera's worker to confirm it."""
    changes = None if site is None else await run_in_threadpool(site.apply_site_file)
    if changes is None:
        return ApplyOut(result="saved")
    if changes.error is not None:
        return ApplyOut(result="failed", error=changes.error)
    if camera_id in changes.restarted or camera_id in changes.started:
        return ApplyOut(result="restarted")
    generation = changes.reconfigured.get(camera_id)
    if generation is None:
        return ApplyOut(result="unchanged")
    deadline = time.monotonic() + APPLY_WAIT_S
    while time.monotonic() < deadline:
        answer = state.reconfigured(camera_id)
        if answer is not None and answer.generation >= generation:
            if answer.error is not None:
                return ApplyOut(result="failed", error=answer.error)
            return ApplyOut(result="live")
        await asyncio.sleep(0.05)
    return ApplyOut(result="pending")


def _instance(app: dict[str, Any], with_settings: bool) -> AppInstanceOut:
    return AppInstanceOut(
        type=app["type"],
        name=app.get("name") or app["type"],
        settings=(app.get("settings") or {}) if with_settings else None,
        enabled=app.get("enabled", True),
    )


def _scene_out(
    state: ServiceState, site: SiteControl | None, camera_id: str, with_settings: bool
) -> CameraConfigOut:
    raw = state.raw_frame(camera_id)
    frame_size = None if raw is None else (raw.width, raw.height)
    if state.site_file is None or site is None:
        scene = _running_scene(state, camera_id)
        revision = None
    else:
        try:
            scene, revision = _editor(state, site).camera_scene(camera_id)
        except UnknownCamera as err:
            raise HTTPException(404, str(err)) from None
        except ConfigError as err:
            raise HTTPException(409, f"the site file cannot be edited now: {err}") from None
    try:
        return CameraConfigOut(
            zones=scene["zones"],
            lines=scene["lines"],
            apps=[_instance(app, with_settings) for app in scene["apps"]],
            static_masks=scene["static_masks"],
            frame_size=frame_size,
            revision=revision,
            classes=_detected_classes(state),
        )
    except (ValidationError, KeyError, TypeError) as err:
        raise HTTPException(
            409, f"{state.site_file}: camera {camera_id!r} does not validate; fix the file first"
        ) from err


def _detected_classes(state: ServiceState) -> list[str]:
    """The detector's classes by name (ids as COCO names; all of COCO when unfiltered)."""
    detector = state.site.detector if state.site is not None else DetectorConfig()
    wanted = COCO_CLASSES if detector.classes is None else detector.classes
    return [c if isinstance(c, str) else COCO_CLASSES[c] for c in wanted]


def _running_scene(state: ServiceState, camera_id: str) -> dict[str, Any]:
    site = state.site
    camera = None if site is None else next((c for c in site.cameras if c.id == camera_id), None)
    if camera is None:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    scene = camera.model_dump(mode="json", include={"zones", "lines", "apps"})
    return {**scene, "static_masks": [m.model_dump(mode="json") for m in camera.privacy.static]}


# ---------------------------------------------------------------------------------- routes


@router.get("/api/cameras/{camera_id}/config", response_model=CameraConfigOut, responses=ERRORS)
def get_camera_config(
    camera_id: str, principal: Viewer, state: State, site: Site
) -> CameraConfigOut:
    """The camera's zones, lines and apps as written in the site file (``${VAR}``
    placeholders unexpanded), its frame size and the file's revision."""
    camera_or_404(state, camera_id)
    return _scene_out(state, site, camera_id, principal.at_least(SETTINGS_ROLE))


@router.put("/api/cameras/{camera_id}/config", response_model=CameraConfigSaved, responses=ERRORS)
async def put_camera_config(
    camera_id: str,
    body: CameraConfigIn,
    request: Request,
    principal: Admin,
    state: State,
    site: Site,
) -> CameraConfigSaved:
    """Replace the camera's zones, lines and apps (and its static privacy masks, if given):
    saved to the site file and applied without restarting anything (the camera's tracks go
    on; a change of static masks restarts the camera's worker)."""
    camera_or_404(state, camera_id)
    editor = _editor(state, site)
    await run_in_threadpool(
        editor.replace_scene,
        camera_id,
        {name: zone.model_dump(mode="json", exclude_none=True) for name, zone in body.zones.items()},
        {name: line.model_dump(mode="json") for name, line in body.lines.items()},
        [app.model_dump(exclude_none=True) for app in body.apps],
        static_masks=None
        if body.static_masks is None
        else [mask.model_dump(mode="json") for mask in body.static_masks],
        revision=body.revision,
    )
    detail: dict[str, Any] = {
        "zones": sorted(body.zones),
        "lines": sorted(body.lines),
        "apps": [app.name or app.type for app in body.apps],
    }
    if body.static_masks is not None:
        detail["static_masks"] = len(body.static_masks)
    await _audit(request, principal, "camera.config.update", camera_id, detail)
    applied = await _apply(state, site, camera_id)
    out = await run_in_threadpool(_scene_out, state, site, camera_id, True)  # an admin's
    return CameraConfigSaved(**dict(out), applied=applied)


@router.put(
    "/api/cameras/{camera_id}/apps/{name}", response_model=AppInstanceResult, responses=ERRORS
)
async def put_camera_app(
    camera_id: str,
    name: Annotated[Name, PathParam()],
    body: AppPut,
    request: Request,
    principal: Admin,
    state: State,
    site: Site,
) -> AppInstanceResult:
    """Add app instance `name` to the camera, or replace its type, settings or enabled
    state; saved to the site file and applied without a restart."""
    camera_or_404(state, camera_id)
    editor = _editor(state, site)
    await run_in_threadpool(editor.set_app, camera_id, name, body.type, body.settings, body.enabled)
    detail = {"type": body.type, "enabled": body.enabled, "settings": sorted(body.settings)}
    await _audit(request, principal, "camera.app.set", f"{camera_id}/{name}", detail)
    applied = await _apply(state, site, camera_id)
    return AppInstanceResult(camera=camera_id, name=name, applied=applied)


@router.delete(
    "/api/cameras/{camera_id}/apps/{name}", response_model=AppInstanceResult, responses=ERRORS
)
async def delete_camera_app(
    camera_id: str, name: str, request: Request, principal: Admin, state: State, site: Site
) -> AppInstanceResult:
    """Remove app instance `name` from the camera (its open events end)."""
    camera_or_404(state, camera_id)
    editor = _editor(state, site)
    await run_in_threadpool(editor.remove_app, camera_id, name)
    await _audit(request, principal, "camera.app.remove", f"{camera_id}/{name}", None)
    applied = await _apply(state, site, camera_id)
    return AppInstanceResult(camera=camera_id, name=name, applied=applied)


async def _audit(
    request: Request,
    principal: Principal,
    action: str,
    target: str,
    detail: dict[str, Any] | None,
) -> None:
    """`audit`, in the thread pool: an insert may wait for the database's write lock."""
    await run_in_threadpool(audit, request, principal, action, target, detail)
