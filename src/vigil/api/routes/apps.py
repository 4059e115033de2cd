"""``GET /api/apps`` (operator): every app a config may name (built-in, store, entry point),
its manifest summary and settings JSON Schema, and where it runs with its live status."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.api.deps import Operator, State
from vigil.api.schemas import AUTH_ERRORS, AppInfo, AppRun, app_report
from vigil.api.state import ServiceState
from vigil.appstore.registry import available_apps
from vigil.auth import Principal

__all__ = ["router"]

router = APIRouter(tags=["config"])


@router.get("/api/apps", response_model=list[AppInfo], responses=AUTH_ERRORS)
def list_apps(principal: Operator, state: State) -> list[AppInfo]:
    """Every app a camera may run (built-in, installed from the store, or a ``vigil.apps``
    entry point), with its version, manifest summary and settings JSON Schema, and where it
    runs: camera, instance name, enabled, and the worker's status and counters."""
    runs = _runs(state, principal)
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


def _runs(state: ServiceState, principal: Principal) -> dict[str, list[AppRun]]:
    """App type -> its instances on the cameras the user may see, with their live status."""
    runs: dict[str, list[AppRun]] = {}
    cameras = state.site.cameras if state.site is not None else []
    for camera in cameras:
        if not principal.can_see(camera.id):
            continue
        status = state.status(camera.id)
        reports = {a.name: a for a in status.apps} if status is not None else {}
        for spec in camera.apps:
            name = spec.name or spec.type
            runs.setdefault(spec.type, []).append(
                AppRun(
                    camera=camera.id,
                    name=name,
                    enabled=spec.enabled,
                    settings=spec.settings,
                    **app_report(reports.get(name)),
                )
            )
    return runs
