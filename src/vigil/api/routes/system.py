"""``GET /api/health`` (public liveness), ``GET /metrics`` (Prometheus, operators) and
``GET /api/cluster`` (the nodes, leases and moves of a cluster, admins)."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, HTTPException, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from vigil.api.deps import Admin, Cluster, Operator, State
from vigil.api.metrics import create_registry, render
from vigil.api.schemas import (
    ERROR_RESPONSES,
    AssignmentOut,
    ClusterOut,
    Health,
    MoveOut,
    NodeOut,
)
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


@router.get("/api/cluster", response_model=ClusterOut, tags=["service"], responses=ERROR_RESPONSES)
def cluster_status(principal: Admin, cluster: Cluster) -> ClusterOut:
    """The cluster's nodes (alive, processes, cameras, capacity, load), each camera's lease
    (node, epoch, since) and the recent moves. 404 on a single box."""
    if cluster is None:
        raise HTTPException(
            404, "not a cluster: this service runs on one machine (its site has no cluster section)"
        )
    nodes, assignments, moves = cluster.cluster_status()
    visible = principal.can_see
    return ClusterOut(
        nodes=[
            NodeOut(
                id=n.id, alive=n.alive, head=n.head, address=n.address, pids=list(n.pids),
                cameras=[c for c in n.cameras if visible(c)], capacity=n.capacity, load=n.load,
            )
            for n in nodes
        ],
        assignments={
            camera: AssignmentOut(node=a.node, epoch=a.epoch, since=a.since.timestamp())
            for camera, a in assignments.items()
            if visible(camera)
        },
        moves=[
            MoveOut(
                camera=m.camera, from_node=m.from_node, to_node=m.to_node,
                at=m.at.timestamp(), why=m.why,
            )
            for m in sorted(moves, key=lambda m: m.at, reverse=True)
            if visible(m.camera)
        ],
    )  # fmt: skip
