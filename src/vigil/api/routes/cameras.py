"""``GET /api/cameras`` and ``GET /api/cameras/{id}``: the configured cameras, their state,
the cluster node each runs on, their privacy policy (purpose, masks, retention), their
worker's latest status and their app instances."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from vigil.api.cluster import ClusterControl
from vigil.api.deps import Cluster, State, Viewer, camera_or_404, url_for
from vigil.api.privacy import camera_privacy
from vigil.api.schemas import (
    ERROR_RESPONSES,
    ApiCameraState,
    AppStateOut,
    CameraDetail,
    CameraOut,
    CameraPrivacyOut,
    CameraStatusOut,
    app_report,
)
from vigil.api.state import CameraInfo, ServiceState
from vigil.events.event import json_value
from vigil.recording.rules import CameraRetention, camera_retention

__all__ = ["router"]

router = APIRouter(tags=["cameras"], responses=ERROR_RESPONSES)


def camera_out(
    request: Request, state: ServiceState, camera: CameraInfo, node: str | None = None
) -> CameraOut:
    status = state.status(camera.id)
    camera_state: ApiCameraState = "unknown" if status is None else status.state
    return CameraOut(
        id=camera.id,
        name=camera.name,
        url=camera.url,
        enabled=camera.enabled,
        state=camera_state,
        up=state.is_up(camera.id),
        since=None if status is None else status.since,
        reason=state.reason(camera.id),
        live_url=url_for(request, "camera_live", camera_id=camera.id),
        latest_url=url_for(request, "camera_latest", camera_id=camera.id),
        node=node,
        privacy=privacy_out(state, camera.id),
    )


def privacy_out(state: ServiceState, camera_id: str) -> CameraPrivacyOut:
    """The camera's purpose, masks and retention as running (defaults without a site)."""
    policy = camera_privacy(state, camera_id)
    site = state.site
    config = next((c for c in site.cameras if c.id == camera_id), None) if site else None
    rules = CameraRetention() if config is None else camera_retention(config)
    return CameraPrivacyOut(
        purpose=policy.purpose,
        masked_classes=policy.mask,
        masked_for=policy.roles,
        mode=policy.mode,
        part=policy.part,
        static_masks=len(policy.static),
        limits=policy.retention,
        kept_days=rules.kept_days(site.storage.events_retain_days if site else None),
    )


async def camera_nodes(cluster: ClusterControl | None) -> dict[str, str]:
    """Camera -> the node it runs on (empty on a single box)."""
    if cluster is None:
        return {}
    _, assignments, _ = await run_in_threadpool(cluster.cluster_status)
    return {camera: assignment.node for camera, assignment in assignments.items()}


@router.get("/api/cameras", response_model=list[CameraOut])
async def list_cameras(
    request: Request, principal: Viewer, state: State, cluster: Cluster
) -> list[CameraOut]:
    """The configured cameras (those the user may see) with their current state and, on a
    cluster, the node each runs on."""
    nodes = await camera_nodes(cluster)
    return [
        camera_out(request, state, c, nodes.get(c.id))
        for c in state.cameras.values()
        if principal.can_see(c.id)
    ]


@router.get("/api/cameras/{camera_id}", response_model=CameraDetail)
async def get_camera(
    camera_id: str, request: Request, _: Viewer, state: State, cluster: Cluster
) -> CameraDetail:
    """One camera with its node, its worker's latest status (rates, drops, latency,
    counters) and its app instances: each one's state, restarts, last error and live
    counters."""
    camera = camera_or_404(state, camera_id)
    live = state.live_frame(camera_id)
    node = (await camera_nodes(cluster)).get(camera_id)
    return CameraDetail(
        **dict(camera_out(request, state, camera, node)),
        status=_status_out(state, camera_id),
        apps=_app_states(state, camera_id),
        totals=state.metrics.counter_totals().get(camera_id, {}),
        live_frame_at=None if live is None else live.wall_time,
    )


def _status_out(state: ServiceState, camera_id: str) -> CameraStatusOut | None:
    status = state.status(camera_id)
    if status is None:
        return None
    return CameraStatusOut(
        state=status.state,
        updated_at=status.wall_time,
        age_s=round(state.status_age(camera_id) or 0.0, 3),
        fps_in=status.fps_in,
        fps_processed=status.fps_processed,
        frames_in=status.frames_in,
        frames_processed=status.frames_processed,
        frames_dropped=status.frames_dropped,
        reconnects=status.reconnects,
        detector_latency_ms=status.detector_latency_ms,
        queue_depth=status.queue_depth,
        recording_lag_s=status.recording_lag_s,
        recording=status.recording,
        decoder=status.decoder,
        counters=json_value(status.counters, replace_invalid=True),
        error=status.error,
        since=status.since,
        last_frame_at=status.last_frame_at,
        reason=state.reason(camera_id),
    )


def _app_states(state: ServiceState, camera_id: str) -> list[AppStateOut]:
    """The camera's app instances as configured (in config order), each with the state the
    worker last reported for it; without a site (a state built by hand), what was reported."""
    status = state.status(camera_id)
    reports = {a.name: a for a in status.apps} if status is not None else {}
    cameras = state.site.cameras if state.site is not None else []
    config = next((c for c in cameras if c.id == camera_id), None)
    if config is None:
        configured = [(a.type, a.name, a.enabled) for a in reports.values()]
    else:
        configured = [(a.type, a.name or a.type, a.enabled) for a in config.apps]
    return [
        AppStateOut(type=type_, name=name, enabled=enabled, **app_report(reports.get(name)))
        for type_, name, enabled in configured
    ]
