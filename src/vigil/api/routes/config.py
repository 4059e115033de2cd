"""The live-configuration API: a camera's zones, lines and apps, and the installed apps.

Changes are saved to the site YAML with `SiteEditor` (comments kept, checked exactly as
`vigil serve` checks the file, written atomically) and applied by the running service
without a restart (`ServiceState.apply_site_file`, the supervisor). Refused input is a 422
whose ``detail`` is one line naming the key path and the value, as for a bad YAML file;
an edit that races another is a 409.

* ``GET /api/cameras/{id}/config`` (viewer), ``PUT`` (admin, audited): zones, lines, apps
  (their settings for operators and admins only, as on ``GET /api/apps``).
* ``PUT /api/cameras/{id}/apps/{name}``, ``DELETE`` (admin, audited): one app instance.
* ``GET /api/apps`` (operator): every app a config may name (built-in, store, entry point),
  its manifest summary and settings JSON Schema, and where it runs with its live status.
* ``GET /api/cameras/{id}/frame.jpg`` (viewer): the picture without overlays, to draw on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.apps.registry import available_apps
from vigil.auth import Principal, allow, audit
from vigil.auth.principal import Role
from vigil.config.loader import format_validation_error
from vigil.config.schema import LineConfig, Name, ZoneConfig
from vigil.errors import ConfigError
from vigil.service.config import CameraConfig
from vigil.service.messages import AppState
from vigil.service.site_editor import EditConflict, SiteEditor, UnknownApp, UnknownCamera
from vigil.service.state import ServiceState, SiteChanges

__all__ = ["router"]

APPLY_WAIT_S = 5.0  # how long a save waits for the camera's worker to confirm the new scene
#: The least role that reads app settings (they may hold a webhook's token, say).
SETTINGS_ROLE: Role = "operator"


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
    rebuilt = ValidationError.from_exception_data("request", details)
    body_model = model if isinstance(model, type) and issubclass(model, BaseModel) else None
    return format_validation_error(rebuilt, None, model=body_model)


router = APIRouter(route_class=_OneLineErrors, tags=["config"])

# ---------------------------------------------------------------------------------- models


class AppInstanceIn(BaseModel):
    """One app on a camera, as in the site YAML's ``apps:`` list."""

    model_config = ConfigDict(extra="forbid")

    type: Name = Field(description="The app's id (`GET /api/apps`).")
    name: Name | None = Field(None, description="Instance name (events' `app`); default: type.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Checked against the app's `settings_schema`."
    )
    enabled: bool = Field(True, description="A disabled app is checked but does not run.")


class AppInstanceOut(BaseModel):
    type: str
    name: str
    settings: dict[str, Any] | None = Field(
        description=f"null for a user below {SETTINGS_ROLE}: not theirs to read."
    )
    enabled: bool


class CameraConfigIn(BaseModel):
    """A camera's scene: named zones and lines (pixels, or 0..1 of the frame) and its apps."""

    model_config = ConfigDict(extra="forbid")

    zones: dict[Name, ZoneConfig] = Field(default_factory=dict)
    lines: dict[Name, LineConfig] = Field(default_factory=dict)
    apps: list[AppInstanceIn] = Field(default_factory=list)
    frame_size: tuple[int, int] | None = Field(
        None, description="Ignored on input (GET returns it; PUT accepts the same body)."
    )
    revision: str | None = Field(
        None,
        description="The `revision` from GET: the save is refused (409) if the site file "
        "changed since, instead of undoing someone else's edit. Leave out to overwrite.",
    )


class ApplyOut(BaseModel):
    """How the running service took the saved change."""

    result: Literal["live", "restarted", "pending", "failed", "unchanged", "saved"] = Field(
        description="live: the worker runs the new scene (no restart); restarted: the "
        "camera's worker was restarted; pending: not confirmed yet (the camera is down or "
        "slow); failed: not applied (see error); unchanged: nothing to do; saved: no "
        "running service applies this file."
    )
    error: str | None = None


class CameraConfigOut(BaseModel):
    zones: dict[str, ZoneConfig]
    lines: dict[str, LineConfig]
    apps: list[AppInstanceOut]
    frame_size: tuple[int, int] | None = Field(
        description="[width, height] of the camera's frames; null before its first frame."
    )
    revision: str | None = Field(description="Of the site file; null without one.")


class CameraConfigSaved(CameraConfigOut):
    applied: ApplyOut


class AppPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Name = Field(description="The app's id (`GET /api/apps`).")
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class AppInstanceResult(BaseModel):
    camera: str
    name: str
    applied: ApplyOut


class AppRun(BaseModel):
    """An instance of an app on a camera, with its live status from the camera's worker."""

    camera: str
    name: str
    enabled: bool
    settings: dict[str, Any]
    state: AppState | Literal["unknown"] = Field(
        description="running, failing (it raised: skipped for `backoff_s`), restarting (a "
        "sandboxed app's process), failed, stopped (disabled), starting (before the camera's "
        "first frame), unknown (no report yet)."
    )
    last_error: str | None = None
    restarts: int = 0
    counters: dict[str, float] = Field(default_factory=dict)
    version: str | None = Field(
        None, description="Store apps: the version this instance runs (None: not reported)."
    )
    sandboxed: bool | None = Field(
        None,
        description="Store apps: true when bubblewrap isolates it, false when it runs with "
        "resource limits only (bubblewrap unavailable); None for built-ins or before it starts.",
    )
    memory_cgroup: bool | None = Field(
        None,
        description="Store apps: false when no memory cgroup limits it (address-space limit "
        "only); None for built-ins or before it starts.",
    )
    errors: int = Field(0, description="Calls into the app that raised, since it started.")
    rejected: int = Field(0, description="Events and counter names of the app refused.")
    backoff_s: float = Field(0.0, description="Seconds a failing app is still skipped for.")


class AppInfo(BaseModel):
    id: str
    name: str
    version: str
    vendor: str
    description: str
    origin: Literal["builtin", "store", "entry_point"]
    data: Literal["tracks", "pixels"]
    network: bool
    events: list[str]
    settings_schema: dict[str, Any]
    instances: list[AppRun]


# ---------------------------------------------------------------------------------- helpers


def _state(request: Request) -> ServiceState:
    return request.app.state.vigil


def _editor(state: ServiceState) -> SiteEditor:
    if state.site_file is None:
        raise HTTPException(
            409, "this service was not started from a site file: nothing to save to"
        )
    return SiteEditor(state.site_file)


def _camera_or_404(state: ServiceState, camera_id: str) -> None:
    if state.camera(camera_id) is None:
        raise HTTPException(404, f"unknown camera {camera_id!r}")


async def _edit(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a `SiteEditor` edit off the event loop; its errors as HTTP errors."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except (UnknownCamera, UnknownApp) as err:
        raise HTTPException(404, str(err)) from None
    except EditConflict as err:
        raise HTTPException(409, str(err)) from None
    except ConfigError as err:
        raise HTTPException(422, str(err)) from None


async def _apply(state: ServiceState, camera_id: str) -> ApplyOut:
    """Have the running service apply the saved file; for a scene change, wait (a little)
    for the camera's worker to confirm it."""
    if state.apply_site_file is None:
        return ApplyOut(result="saved")
    changes: SiteChanges = await run_in_threadpool(state.apply_site_file)
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


def _scene_out(state: ServiceState, camera_id: str, with_settings: bool) -> CameraConfigOut:
    raw = state.raw_frame(camera_id)
    frame_size = None if raw is None else (raw.width, raw.height)
    if state.site_file is None:
        camera = _running_camera(state, camera_id)
        scene = camera.model_dump(mode="json", include={"zones", "lines", "apps"})
        revision = None
    else:
        try:
            scene, revision = SiteEditor(state.site_file).camera_scene(camera_id)
        except UnknownCamera as err:
            raise HTTPException(404, str(err)) from None
        except ConfigError as err:
            raise HTTPException(409, f"the site file cannot be edited now: {err}") from None
    try:
        return CameraConfigOut(
            zones=scene["zones"],
            lines=scene["lines"],
            apps=[_instance(app, with_settings) for app in scene["apps"]],
            frame_size=frame_size,
            revision=revision,
        )
    except (ValidationError, KeyError, TypeError) as err:
        raise HTTPException(
            409, f"{state.site_file}: camera {camera_id!r} does not validate; fix the file first"
        ) from err


def _running_camera(state: ServiceState, camera_id: str) -> CameraConfig:
    site = state.site
    camera = None if site is None else next((c for c in site.cameras if c.id == camera_id), None)
    if camera is None:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    return camera


# ---------------------------------------------------------------------------------- routes

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in (no session or API token)"},
    403: {"description": "The user's role or cameras do not allow it"},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    404: {"description": "Unknown camera or app instance"},
    409: {"description": "Another edit is in progress, or the file changed since `revision`"},
    422: {"description": "Refused: one line naming the key path and the value"},
}


@router.get("/api/cameras/{camera_id}/config", response_model=CameraConfigOut, responses=ERRORS)
def get_camera_config(
    camera_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(allow("viewer"))],
) -> CameraConfigOut:
    """The camera's zones, lines and apps as written in the site file (``${VAR}``
    placeholders unexpanded), its frame size and the file's revision."""
    state = _state(request)
    _camera_or_404(state, camera_id)
    return _scene_out(state, camera_id, principal.at_least(SETTINGS_ROLE))


@router.put("/api/cameras/{camera_id}/config", response_model=CameraConfigSaved, responses=ERRORS)
async def put_camera_config(
    camera_id: str,
    body: CameraConfigIn,
    request: Request,
    principal: Annotated[Principal, Depends(allow("admin"))],
) -> CameraConfigSaved:
    """Replace the camera's zones, lines and apps: saved to the site file and applied
    without restarting anything (the camera's tracks go on)."""
    state = _state(request)
    _camera_or_404(state, camera_id)
    editor = _editor(state)
    apps = [app.model_dump(exclude_none=True) for app in body.apps]
    await _edit(
        editor.replace_scene,
        camera_id,
        {name: zone.model_dump(mode="json") for name, zone in body.zones.items()},
        {name: line.model_dump(mode="json") for name, line in body.lines.items()},
        apps,
        revision=body.revision,
    )
    audit(
        request,
        principal,
        "camera.config.update",
        camera_id,
        {
            "zones": sorted(body.zones),
            "lines": sorted(body.lines),
            "apps": [app.name or app.type for app in body.apps],
        },
    )
    applied = await _apply(state, camera_id)
    out = await run_in_threadpool(_scene_out, state, camera_id, True)  # an admin's
    return CameraConfigSaved(**dict(out), applied=applied)


@router.put(
    "/api/cameras/{camera_id}/apps/{name}", response_model=AppInstanceResult, responses=ERRORS
)
async def put_camera_app(
    camera_id: str,
    name: Annotated[Name, PathParam()],
    body: AppPut,
    request: Request,
    principal: Annotated[Principal, Depends(allow("admin"))],
) -> AppInstanceResult:
    """Add app instance `name` to the camera, or replace its type, settings or enabled
    state; saved to the site file and applied without a restart."""
    state = _state(request)
    _camera_or_404(state, camera_id)
    editor = _editor(state)
    await _edit(editor.set_app, camera_id, name, body.type, body.settings, body.enabled)
    audit(
        request,
        principal,
        "camera.app.set",
        f"{camera_id}/{name}",
        {"type": body.type, "enabled": body.enabled, "settings": sorted(body.settings)},
    )
    return AppInstanceResult(camera=camera_id, name=name, applied=await _apply(state, camera_id))


@router.delete(
    "/api/cameras/{camera_id}/apps/{name}", response_model=AppInstanceResult, responses=ERRORS
)
async def delete_camera_app(
    camera_id: str,
    name: str,
    request: Request,
    principal: Annotated[Principal, Depends(allow("admin"))],
) -> AppInstanceResult:
    """Remove app instance `name` from the camera (its open events end)."""
    state = _state(request)
    _camera_or_404(state, camera_id)
    editor = _editor(state)
    await _edit(editor.remove_app, camera_id, name)
    audit(request, principal, "camera.app.remove", f"{camera_id}/{name}")
    return AppInstanceResult(camera=camera_id, name=name, applied=await _apply(state, camera_id))


@router.get("/api/apps", response_model=list[AppInfo], responses=AUTH_ERRORS)
def list_apps(
    request: Request, principal: Annotated[Principal, Depends(allow("operator"))]
) -> list[AppInfo]:
    """Every app a camera may run (built-in, installed from the store, or a ``vigil.apps``
    entry point), with its version, manifest summary and settings JSON Schema, and where it
    runs: camera, instance name, enabled, and the worker's status and counters."""
    state = _state(request)
    runs: dict[str, list[AppRun]] = {}
    cameras = state.site.cameras if state.site is not None else []
    for camera in cameras:
        if not principal.can_see(camera.id):
            continue
        status = state.status(camera.id)
        reports = {a.name: a for a in status.apps} if status is not None else {}
        for spec in camera.apps:
            name = spec.name or spec.type
            report = reports.get(name)
            runs.setdefault(spec.type, []).append(
                AppRun(
                    camera=camera.id,
                    name=name,
                    enabled=spec.enabled,
                    settings=spec.settings,
                    state=report.state if report is not None else "unknown",
                    last_error=report.last_error if report is not None else None,
                    restarts=report.restarts if report is not None else 0,
                    counters=report.counters if report is not None else {},
                    version=report.version if report is not None else None,
                    sandboxed=report.sandboxed if report is not None else None,
                    memory_cgroup=report.memory_cgroup if report is not None else None,
                    errors=report.errors if report is not None else 0,
                    rejected=report.rejected if report is not None else 0,
                    backoff_s=round(report.backoff_s, 1) if report is not None else 0.0,
                )
            )
    out = []
    for kind, available in available_apps().items():
        m = available.manifest
        out.append(
            AppInfo(
                id=kind,
                name=m.name,
                version=m.version,
                vendor=m.vendor,
                description=m.description,
                origin=available.origin,
                data=m.data,
                network=m.network,
                events=list(m.events),
                settings_schema=m.settings_schema,
                instances=runs.get(kind, []),
            )
        )
    return out


@router.get(
    "/api/cameras/{camera_id}/frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **AUTH_ERRORS, 404: ERRORS[404]},
    tags=["live"],
)
def camera_frame(
    camera_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(allow("viewer"))],
) -> Response:
    """The camera's picture without overlays (refreshed every few seconds), for drawing
    zones and lines on; ``latest.jpg`` is the annotated live frame."""
    state = _state(request)
    _camera_or_404(state, camera_id)
    frame = state.raw_frame(camera_id)
    if frame is None:
        raise HTTPException(404, f"no frame from camera {camera_id!r} yet")
    return Response(
        frame.jpeg,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Time": f"{frame.wall_time:.3f}",
            "X-Frame-Size": f"{frame.width}x{frame.height}",
        },
    )
