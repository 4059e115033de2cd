"""``GET /api/events`` (filters, newest first, limit/offset with the total), one event, its
snapshot JPEG, the crop of its object and its clip (cut from the recordings on first
request, then cached).

On a cluster an event's snapshot and footage stay on the node that made them and are read
from there (`vigil.api.cluster.NodeFiles`); a 503 names a node that is down."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from vigil.api.cluster import NodeFiles
from vigil.api.deps import Events, Files, Operator, Recording, Segments, State, Viewer, url_for
from vigil.api.exports import (
    export_errors,
    exported,
    masked_exporter,
    masking_key,
    temp_path,
    unlink,
)
from vigil.api.privacy import (
    VIEW_AUDIT_EVERY_S,
    PrivacyView,
    audit_view,
    event_box,
    privacy_view,
    requested_view,
    snapshot_jpeg,
    view_detail,
)
from vigil.api.schemas import ERROR_RESPONSES, NODE_DOWN, EventOut, EventPage, Timestamp
from vigil.api.state import ServiceState, safe_name
from vigil.auth import Principal, audit
from vigil.events.event import Event, json_value
from vigil.events.store import EventStore
from vigil.privacy.masking import mask_snapshot_crop, snapshot_boxes_path, snapshot_crop_path

__all__ = ["MAX_CLIP_S", "router"]

MAX_CLIP_S = 3 * 3600.0  # longest clip of an event (one left open forever)
_CLIP_SETTLE_S = 300.0  # after this long past its end, a clip is cached even if footage is short
_MP4 = {200: {"content": {"video/mp4": {}}}, **ERROR_RESPONSES, 503: NODE_DOWN}

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)


def event_or_404(events: EventStore, event_id: str, principal: Principal) -> Event:
    """The event, if the principal may see its camera (otherwise it is not there)."""
    event = events.get(event_id)
    if event is None or not principal.can_see(event.source):
        raise HTTPException(404, f"unknown event {event_id!r}")
    return event


def has_snapshot(state: ServiceState, files: NodeFiles, event: Event) -> bool:
    """Whether the event has a snapshot: looked for on this disk; one on another node is
    assumed (fetching it for every event of a list would cost a copy each)."""
    node = event.node
    if files.remote(node):
        return node is not None and state.node_snapshot_path(node, event) is not None
    return state.snapshot_path(event) is not None


def snapshot_file(state: ServiceState, files: NodeFiles, event: Event) -> Path | None:
    """The event's snapshot as a file this process can open; None when there is none;
    `NodeUnavailable` when its node is down."""
    node = event.node
    if not files.remote(node):
        return state.snapshot_path(event)
    assert node is not None
    remote = state.node_snapshot_path(node, event)
    if remote is None:
        return None
    try:
        return files.path(node, remote, "snapshot")
    except FileNotFoundError:
        return None


def crop_file(state: ServiceState, files: NodeFiles, event: Event) -> tuple[Path, Path] | None:
    """The event object's crop and the snapshot's boxes file as files this process can open
    (fetched from the node that made them); None when the event has no crop."""
    node = event.node
    snapshot = (
        state.node_snapshot_path(node, event)
        if node is not None and files.remote(node)
        else state.snapshot_path(event)
    )
    if snapshot is None:
        return None
    try:
        crop = files.path(node, snapshot_crop_path(snapshot), "snapshot")
        if not crop.is_file():
            return None
        boxes = files.path(node, snapshot_boxes_path(snapshot), "snapshot")
    except FileNotFoundError:
        return None
    return crop, boxes


def crop_url(request: Request, state: ServiceState, files: NodeFiles, event: Event) -> str | None:
    """The URL of the event object's crop, where the worker wrote one (an event naming its
    object's box)."""
    if event_box(event) is None:
        return None
    if files.remote(event.node):  # assumed there, as its snapshot is (`has_snapshot`)
        present = has_snapshot(state, files, event)
    else:
        snapshot = state.snapshot_path(event)
        present = snapshot is not None and snapshot_crop_path(snapshot).is_file()
    return url_for(request, "event_crop", event_id=event.id) if present else None


def event_out(request: Request, state: ServiceState, files: NodeFiles, event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        camera=event.source,
        app=event.app,
        type=event.type,
        state=event.state,
        start_time=event.start_time,
        end_time=event.end_time,
        frame_index=event.frame_index,
        track_id=event.track_id,
        class_id=event.class_id,
        class_name=event.class_name,
        zone=event.zone,
        line=event.line,
        attributes=json_value(event.attributes, replace_invalid=True),
        box=event_box(event),
        snapshot_url=url_for(request, "event_snapshot", event_id=event.id)
        if has_snapshot(state, files, event)
        else None,
        crop_url=crop_url(request, state, files, event),
        clip_url=url_for(request, "event_clip", event_id=event.id),
    )


#: ``?unmasked=true`` on a picture route: the unmasked picture, for a user under a lift.
Unmasked = Annotated[
    bool, Query(description="Unmasked, for a user with a lift in effect (audited).")
]


@router.get("/api/events", response_model=EventPage)
def list_events(
    request: Request,
    principal: Viewer,
    state: State,
    events: Events,
    files: Files,
    camera: str | None = None,
    app_name: Annotated[str | None, Query(alias="app")] = None,
    type: str | None = None,  # noqa: A002 - the query parameter's name
    class_name: str | None = None,
    since: Annotated[Timestamp | None, Query(description="start_time >= since")] = None,
    until: Annotated[Timestamp | None, Query(description="start_time < until")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> EventPage:
    """Events matching every given filter, newest first."""
    filters: dict[str, Any] = {
        "source": camera,
        "app": app_name,
        "type": type,
        "class_name": class_name,
        "since": since,
        "until": until,
    }
    # A camera-restricted user's list holds only their cameras' events.
    sources = principal.cameras
    total = events.count(**filters, sources=sources)
    page = events.query(**filters, sources=sources, limit=limit, offset=offset, newest_first=True)
    return EventPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[event_out(request, state, files, e) for e in page],
    )


@router.get("/api/events/{event_id}", response_model=EventOut)
def get_event(
    event_id: str, request: Request, principal: Viewer, state: State, events: Events, files: Files
) -> EventOut:
    """One event."""
    return event_out(request, state, files, event_or_404(events, event_id, principal))


@router.get(
    "/api/events/{event_id}/snapshot.jpg",
    name="event_snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **ERROR_RESPONSES, 503: NODE_DOWN},
)
def event_snapshot(
    event_id: str,
    request: Request,
    principal: Viewer,
    state: State,
    events: Events,
    files: Files,
    unmasked: Unmasked = False,
) -> Response:
    """The JPEG of the event's first frame, with boxes, zones and lines drawn, masked as
    the camera's privacy policy says for the user (audited: ``privacy.view``); 503 when the
    node that made it is down."""
    event = event_or_404(events, event_id, principal)
    view = requested_view(state, principal, event.source, unmasked)
    path = snapshot_file(state, files, event)
    if path is None:
        raise HTTPException(404, f"event {event_id!r} has no snapshot")
    return _picture(request, principal, view, "snapshot", event, lambda: snapshot_jpeg(path, view))


def _picture(
    request: Request,
    principal: Principal,
    view: PrivacyView,
    what: str,
    event: Event,
    read: Callable[[], bytes],
) -> Response:
    """The event's picture `read` makes for `view` (audited as `what`); 404 for a damaged
    file, which is never served unmasked instead."""
    try:
        jpeg = read()
    except (OSError, ValueError) as err:
        raise HTTPException(404, f"event {event.id!r}: {err}") from None
    audit_view(request, principal, view, what, event.id, every_s=VIEW_AUDIT_EVERY_S)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/events/{event_id}/crop.jpg",
    name="event_crop",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **ERROR_RESPONSES, 503: NODE_DOWN},
)
def event_crop(
    event_id: str,
    request: Request,
    principal: Viewer,
    state: State,
    events: Events,
    files: Files,
    unmasked: Unmasked = False,
) -> Response:
    """The JPEG of the event's object with a margin, cut from its snapshot, masked exactly
    as the snapshot is for the user (audited: ``privacy.view``); 503 when the node that made
    it is down."""
    event = event_or_404(events, event_id, principal)
    view = requested_view(state, principal, event.source, unmasked)
    found = crop_file(state, files, event)
    if found is None:
        raise HTTPException(404, f"event {event_id!r} has no object crop")
    crop, boxes = found

    def read() -> bytes:
        if not view.masks_anything:
            return crop.read_bytes()
        return mask_snapshot_crop(crop, boxes, view.settings, objects=view.mask_objects)

    return _picture(request, principal, view, "crop", event, read)


@router.get(
    "/api/events/{event_id}/clip.mp4",
    name="event_clip",
    response_class=FileResponse,
    responses=_MP4,
)
def event_clip(
    event_id: str,
    request: Request,
    principal: Operator,
    state: State,
    events: Events,
    index: Segments,
    recording: Recording,
    files: Files,
) -> FileResponse:
    """The event's footage with pre- and post-roll (5 s by default) as one MP4.

    Cut on first request and kept in the exports folder once the event has ended and its
    footage is all recorded. An event still going on gets its footage so far (not kept).
    At most three hours from the event's start; 503 when a node with some of it is down.
    Masked where the camera's privacy policy says so for this user (cached apart).
    Audited (``playback.clip``).
    """
    event = event_or_404(events, event_id, principal)
    view = privacy_view(state, principal, event.source)
    detail = {"camera": event.source, **view_detail(view)}
    audit(request, principal, "playback.clip", event.id, detail)
    camera = state.camera(event.source)
    pre = camera.pre_roll if camera else 5.0
    post = camera.post_roll if camera else 5.0
    finished = event.state in ("instant", "end")
    if not finished:
        post = 0.0
    last = event.end_time if event.end_time is not None else event.start_time
    if not finished:
        last = max(last, state.clock())
    last = min(last, event.start_time + MAX_CLIP_S)  # an event left open forever
    start, end = event.start_time - pre, last + post
    filename = f"{event.source}-{event.type}-{event.id}.mp4"
    name = f"{event.id}-masked-{masking_key(view)}" if view.masks_anything else event.id
    cached = state.exports_dir / "clips" / f"{name}.mp4" if safe_name(event.id) else None
    if cached is not None and cached.is_file():
        return FileResponse(cached, media_type="video/mp4", filename=filename)
    segments = list(index.between(event.source, start, end))
    if not segments:
        raise HTTPException(404, f"no recording covers event {event_id!r}")
    tmp = temp_path(state.exports_dir / "clips")
    try:
        if view.masks_anything:
            result: Any = _masked_clip(files.index(index), event.source, start, end, view, tmp)
        else:
            result = recording.event_clip(
                files.index(index),
                event.source,
                event.start_time,
                last,
                tmp,
                pre_roll=pre,
                post_roll=post,
            )
    except export_errors(recording) as err:
        unlink(tmp)
        raise HTTPException(404, f"no clip for event {event_id!r}: {err}") from None
    path = exported(result, tmp)
    if path is None:
        unlink(tmp)
        raise HTTPException(404, f"no clip for event {event_id!r}")
    recorded_to = max(s.end_time for s in segments)
    complete = recorded_to >= end - 0.5 or state.clock() > end + _CLIP_SETTLE_S
    if cached is not None and finished and complete:
        os.replace(path, cached)
        return FileResponse(cached, media_type="video/mp4", filename=filename)
    return FileResponse(
        path, media_type="video/mp4", filename=filename, background=BackgroundTask(unlink, path)
    )


def _masked_clip(
    index: Any, camera: str, start: float, end: float, view: PrivacyView, out: Path
) -> Path:
    return masked_exporter(index, camera, start, end, view)(out, lambda fraction: None)
