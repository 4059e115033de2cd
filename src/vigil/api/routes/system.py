"""``GET /api/health`` (public liveness) and ``GET /metrics`` (Prometheus, operators)."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from vigil.api.deps import Operator, State
from vigil.api.metrics import create_registry, render
from vigil.api.schemas import ERROR_RESPONSES, Health
from vigil.api.state import ServiceState
from vigil.recording.retention import disk_pressure

__all__ = ["router"]

router = APIRouter()


@router.get("/api/health", response_model=Health, tags=["service"])
async def health(state: State) -> Health:
    """The service is running, and whether every enabled camera is up (public: the
    cameras' states are in ``GET /api/cameras``)."""
    ok = all(state.is_up(c.id) for c in state.cameras.values() if c.enabled)
    now = state.clock()
    pressure = _disk_pressure(state)
    return Health(
        ok=ok,
        status="ok" if ok and not pressure else "degraded",
        time=now,
        uptime_s=max(0.0, now - state.started_at),
        disk_pressure=pressure,
    )


def _disk_pressure(state: ServiceState) -> bool:
    """Whether the site's storage disk is near its free-space floor (False without a site;
    True when the folder cannot be read)."""
    if state.site is None:
        return False
    storage = state.site.storage
    try:
        free = shutil.disk_usage(storage.directory).free
    except OSError:
        return True
    return disk_pressure(free, storage.min_free_bytes)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    description=(
        "The Prometheus text exposition format: per-camera frame, drop, reconnect and "
        "event counters, detector latency and queue depth, recording lag and disk usage."
    ),
    tags=["metrics"],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}},
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
    },
)
def metrics(request: Request, principal: Operator, state: State) -> Response:
    """A plain ``def`` route: scrapes run in the thread pool, since one may walk the
    recordings directory. A camera-restricted user gets the series of their cameras only."""
    if principal.cameras is None:
        registry = request.app.state.metrics_registry
    else:
        registry = create_registry(state, cameras=principal.cameras)
    return Response(render(registry), media_type=CONTENT_TYPE_LATEST)
