"""``GET /api/health`` (public liveness), ``GET /api/system`` (the System page: version,
uptime, process groups, disk forecast, latency over time and checks, operators),
``GET /metrics`` (Prometheus, operators) and ``GET /api/cluster`` (the nodes, leases and
moves of a cluster, admins)."""

from __future__ import annotations

import dataclasses
import shutil
from typing import Literal

import psutil
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from starlette.responses import Response

from vigil import __version__
from vigil.api.deps import Admin, Cluster, Operator, State
from vigil.api.metrics import create_registry, render
from vigil.api.resources import ProcessSampler, checks, disk_forecast
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


class ProcessGroupOut(BaseModel):
    """A group of the service's processes on this machine and what they use now."""

    name: str
    kind: Literal["service", "detector", "camera", "apps", "other"] = Field(
        description="service: the API and supervisor; camera: a camera's worker; apps: the "
        "sandboxed store apps below that worker; other: any other child process."
    )
    camera: str | None = None
    pids: list[int]
    cpu_percent: float = Field(description="Per core (200 = two cores busy), as top shows.")
    memory_bytes: int = Field(
        description="Resident memory, summed over the group: each process's share (PSS), a"
        " page shared by n processes counting 1/n, or its RSS where PSS cannot be read."
    )


class CheckOut(BaseModel):
    key: str
    title: str
    value: str
    level: Literal["ok", "warning"]
    advice: str | None = Field(None, description="What to do, one line, when a warning.")


class DiskOut(BaseModel):
    path: str
    total_bytes: int
    free_bytes: int
    write_bytes_per_day: float = Field(
        description="Recordings written over the last hour, as bytes per day."
    )
    days_left: float | None = Field(
        description="Days of recording the free space holds at that rate (null: not recording)."
    )


class SystemOut(BaseModel):
    """The System page: version, uptime, checks with what to do, CPU and memory per process
    group, the disk's forecast, and each camera's analysis latency over time."""

    version: str
    started_at: float
    uptime_s: float
    cpu_count: int
    memory_total_bytes: int
    checks: list[CheckOut]
    processes: list[ProcessGroupOut]
    disk: DiskOut | None
    latency: dict[str, list[tuple[float, float]]] = Field(
        description="Camera -> (time, analysis latency in ms), oldest first, every 10 s."
    )


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


@router.get("/api/system", response_model=SystemOut, tags=["service"], responses=ERROR_RESPONSES)
async def system(request: Request, principal: Operator, state: State) -> SystemOut:
    """Version and uptime; CPU and memory of the service's processes on this machine, by
    group (the service, the detector, each camera's worker and its sandboxed apps); the
    storage disk's free space and days of recording left at the current rate; each
    camera's analysis latency over time; and checks (ok or warning, with what to do).
    A camera-restricted user sees the groups and latencies of their cameras only."""
    sampler = getattr(request.app.state, "process_sampler", None)
    if sampler is None:
        sampler = request.app.state.process_sampler = ProcessSampler()
    now = state.clock()
    groups = await run_in_threadpool(sampler.groups, state.worker_pids(), list(state.cameras))
    disk = await run_in_threadpool(disk_forecast, state, now)
    cameras = [c for c in state.cameras if principal.can_see(c)]
    latency = {c: state.latency_history(c) for c in cameras}
    statuses = {c: state.status(c) for c in cameras if state.is_up(c)}
    latest = {c: s.detector_latency_ms for c, s in statuses.items() if s is not None}
    down = [c for c in cameras if state.cameras[c].enabled and not state.is_up(c)]
    verdicts = checks(groups, disk, _disk_pressure(state), latest, down)
    visible = [g for g in groups if g.camera is None or principal.can_see(g.camera)]
    return SystemOut(
        version=__version__,
        started_at=state.started_at,
        uptime_s=max(0.0, now - state.started_at),
        cpu_count=psutil.cpu_count() or 1,
        memory_total_bytes=psutil.virtual_memory().total,
        checks=[CheckOut(**dataclasses.asdict(c)) for c in verdicts],
        processes=[ProcessGroupOut(**dataclasses.asdict(g)) for g in visible],
        disk=None if disk is None else DiskOut(**dataclasses.asdict(disk)),
        latency=latency,
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
