"""Live views: the latest annotated JPEG, MJPEG streams, the raw frame to draw zones on,
and the WebSockets (``WS /api/ws``: events and per-frame objects as JSON; ``WS /api/live``:
every camera's live JPEGs over one connection).

Every live JPEG stream holds `LiveViewers.watch` on its cameras while it runs, and a polled
``latest.jpg`` `touch`es its camera, so the workers draw and encode live frames only while
someone looks (`vigil.api.live`). A poll of a camera nobody watched waits up to
`FRESH_WAIT_S` for a fresh frame instead of answering with a stale one.

Every picture goes through `vigil.api.privacy`: a camera whose policy masks the user's role
is served masked; with a lift in effect, ``?unmasked=true`` (``latest.jpg``, ``live.mjpeg``)
serves it unmasked; both are audited (``privacy.view``). A stream looks at the user's view
again every `STREAM_RECHECK_S` (a lift ends; an unmasked stream whose lift ended stops).

The streaming routes are ``async`` and never block the loop; the database checks of
`StillAllowed` and of the privacy views run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from vigil.api.deps import Live, State, Viewer, camera_or_404
from vigil.api.live import LiveViewers
from vigil.api.privacy import (
    VIEW_AUDIT_EVERY_S,
    PrivacyView,
    audit_view,
    live_jpeg,
    requested_view,
)
from vigil.api.schemas import ERROR_RESPONSES
from vigil.api.state import ServiceState
from vigil.auth.policy import STREAM_RECHECK_S, StillAllowed
from vigil.auth.principal import Principal
from vigil.events.event import json_value
from vigil.service.messages import EventMessage, FrameMetadata, LiveFrame, event_to_dict

__all__ = ["MJPEG_BOUNDARY", "router", "ws_payload"]

MJPEG_BOUNDARY = "vigilframe"
MJPEG_KEEPALIVE_S = 2.0  # resend the latest frame this often even when it has not changed
WS_POLL_S = 0.05  # how often an idle WebSocket looks at its subscription
WS_QUEUE = 1000  # messages buffered per WebSocket client (oldest dropped beyond)
FRESH_WAIT_S = 1.5  # how long a poll of an unwatched camera waits for a fresh frame
_JPEG = {200: {"content": {"image/jpeg": {}}}, **ERROR_RESPONSES}
Unmasked = Annotated[
    bool,
    Query(description="Unmasked, for a user with a lift in effect on the camera (audited)."),
]

router = APIRouter(tags=["live"], responses=ERROR_RESPONSES)


@router.get("/api/cameras/{camera_id}/latest.jpg", name="camera_latest", response_class=Response,
            responses=_JPEG)  # fmt: skip
async def camera_latest(
    camera_id: str,
    request: Request,
    principal: Viewer,
    state: State,
    viewers: Live,
    unmasked: Unmasked = False,
) -> Response:
    """The camera's latest annotated frame (boxes, zones, lines) as a JPEG, masked as the
    camera's privacy policy says for the user."""
    camera_or_404(state, camera_id)
    view = await asyncio.to_thread(requested_view, state, principal, camera_id, unmasked)
    asked = state.clock()
    frame = state.live_frame(camera_id)
    if viewers.touch(camera_id, view.unmasked_picture):
        frame = await _fresh_frame(state, camera_id, asked) or frame
    if frame is None:
        raise HTTPException(404, f"no frame from camera {camera_id!r} yet")
    jpeg = live_jpeg(frame, view)
    await asyncio.to_thread(
        audit_view, request, principal, view, "live", camera_id, every_s=VIEW_AUDIT_EVERY_S
    )
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Frame-Time": f"{frame.wall_time:.3f}"},
    )


async def _fresh_frame(state: ServiceState, camera_id: str, since: float) -> LiveFrame | None:
    """The camera's first live frame drawn at or after `since`, waiting up to
    `FRESH_WAIT_S` for it (its worker starts drawing when asked); None if none came."""
    deadline = time.monotonic() + FRESH_WAIT_S
    while True:
        frame = state.live_frame(camera_id)
        if frame is not None and frame.wall_time >= since:
            return frame
        if time.monotonic() >= deadline or state.closing.is_set():
            return None
        await asyncio.sleep(0.05)


@router.get(
    "/api/cameras/{camera_id}/live.mjpeg",
    name="camera_live",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}": {}},
            "description": "An endless MJPEG stream of the annotated live frames.",
        },
        **ERROR_RESPONSES,
    },
)
async def camera_live(
    camera_id: str,
    request: Request,
    principal: Viewer,
    state: State,
    viewers: Live,
    fps: Annotated[float, Query(gt=0, le=30, description="Most frames per second.")] = 5.0,
    frames: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Stop after this many frames.")
    ] = None,
    unmasked: Unmasked = False,
) -> StreamingResponse:
    """The camera's annotated live view as MJPEG (`<img src=...>` plays it), masked as
    the camera's privacy policy says for the user."""
    camera_or_404(state, camera_id)
    view = await asyncio.to_thread(requested_view, state, principal, camera_id, unmasked)
    await asyncio.to_thread(audit_view, request, principal, view, "live", camera_id)
    still_allowed = StillAllowed(request, principal, "viewer")
    return StreamingResponse(
        _mjpeg(state, viewers, camera_id, request, 1.0 / fps, frames, still_allowed, view),
        media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/cameras/{camera_id}/frame.jpg", response_class=Response, responses=_JPEG)
def camera_frame(camera_id: str, _: Viewer, state: State) -> Response:
    """The camera's picture without overlays (refreshed every few seconds), for drawing
    zones and lines on; ``latest.jpg`` is the annotated live frame. Masked for everyone
    as the camera's privacy policy says (the worker masks it)."""
    camera_or_404(state, camera_id)
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


@router.websocket("/api/ws")
async def stream(
    websocket: WebSocket,
    principal: Viewer,
    state: State,
    camera: str | None = None,
    objects: bool = True,
) -> None:
    """Events and per-frame object metadata (of the cameras the user may see) as JSON
    text messages."""
    if camera is not None and state.camera(camera) is None:
        await websocket.close(code=1008, reason=f"unknown camera {camera!r}")
        return
    kinds: tuple[type, ...] = (EventMessage, FrameMetadata) if objects else (EventMessage,)
    # Subscribe before accepting: whatever is published once the client is connected
    # reaches it.
    subscription = state.hub.subscribe(kinds, maxsize=WS_QUEUE)
    websocket.app.state.ws_clients += 1
    try:
        await websocket.accept()
        still_allowed = StillAllowed(websocket, principal, "viewer")
        await _run_websocket(websocket, subscription, camera, state.closing, still_allowed)
    finally:
        subscription.close()
        websocket.app.state.ws_clients -= 1


@router.websocket("/api/live")
async def live_frames(
    websocket: WebSocket,
    principal: Viewer,
    state: State,
    viewers: Live,
    fps: Annotated[float, Query(gt=0, le=30)] = 5.0,
) -> None:
    """Every camera's annotated live frames (of the cameras the user may see) over one
    connection: a browser opens at most 6 HTTP/1.1 connections to a host and an MJPEG
    stream holds one for good, so a grid of many cameras shares this one instead. Binary
    messages: the camera id in UTF-8, a newline, the JPEG; a camera's frame is sent
    when it is new, at most `fps` per second."""
    await websocket.accept()
    websocket.app.state.live_streams += 1
    try:
        still_allowed = StillAllowed(websocket, principal, "viewer")
        sender = _send_live_frames(websocket, state, viewers, 1.0 / fps, still_allowed)
        await _serve_websocket(websocket, sender, state.closing)
    finally:
        websocket.app.state.live_streams -= 1


# --------------------------------------------------------------------------- streaming


def _mjpeg_part(jpeg: bytes) -> bytes:
    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


async def _mjpeg(
    state: ServiceState,
    viewers: LiveViewers,
    camera_id: str,
    request: Request,
    period: float,
    limit: int | None,
    still_allowed: StillAllowed,
    view: PrivacyView,
) -> AsyncIterator[bytes]:
    """Each new live frame of the camera as `view` (followed as lifts begin and end) may
    be served, at most one per `period`, until the client leaves or may no longer watch
    (logged out, removed, restricted; an unmasked view whose lift ended).

    The latest frame is sent again every `MJPEG_KEEPALIVE_S` while the camera is quiet, so a
    client that went away is noticed even then.
    """
    app_state = request.app.state
    app_state.live_streams += 1
    try:
        with viewers.watch(camera_id, view.unmasked_picture):
            sent = 0
            last_frame: float | None = None
            last_sent = -math.inf
            follow = _ViewFollower(state, view)
            while (limit is None or sent < limit) and not state.closing.is_set():
                current = await follow(still_allowed.principal)
                if current is None:
                    break
                frame = state.live_frame(camera_id)
                now = time.monotonic()
                if frame is not None and (
                    frame.wall_time != last_frame or now - last_sent >= MJPEG_KEEPALIVE_S
                ):
                    yield _mjpeg_part(live_jpeg(frame, current))
                    sent += 1
                    last_frame, last_sent = frame.wall_time, now
                    if limit is not None and sent >= limit:
                        break
                await asyncio.sleep(period)
                if await request.is_disconnected() or not await still_allowed():
                    break
    finally:
        app_state.live_streams -= 1


class _ViewFollower:
    """A stream's privacy view, looked at again every `STREAM_RECHECK_S` (the camera's
    policy may change); a stream opened unmasked under a lift ends (None) with the lift."""

    def __init__(self, state: ServiceState, view: PrivacyView) -> None:
        self._state = state
        self._view = view
        self._asked_unmasked = view.lift is not None
        self._last = time.monotonic()

    async def __call__(self, principal: Principal) -> PrivacyView | None:
        now = time.monotonic()
        if now - self._last < STREAM_RECHECK_S:
            return self._view
        self._last = now
        try:
            self._view = await asyncio.to_thread(
                requested_view, self._state, principal, self._view.camera, self._asked_unmasked
            )
        except HTTPException:
            return None
        return self._view


def ws_payload(message: EventMessage | FrameMetadata) -> dict[str, Any]:
    """The JSON of one WebSocket message."""
    if isinstance(message, EventMessage):
        return {"kind": "event", **event_to_dict(message)}
    return {
        "kind": "objects",
        "camera": message.camera,
        "frame_index": message.frame_index,
        "pts": message.pts,
        "wall_time": message.wall_time,
        "width": message.width,
        "height": message.height,
        "objects": [
            {
                "track_id": o.track_id,
                "class_id": o.class_id,
                "class_name": o.class_name,
                "confidence": o.confidence,
                "box": list(o.box),
            }
            for o in message.objects
        ],
    }


def _camera_of(message: Any) -> str | None:
    if isinstance(message, EventMessage):
        return message.event.source
    return getattr(message, "camera", None)


async def _run_websocket(
    websocket: WebSocket,
    subscription: Any,
    camera: str | None,
    closing: threading.Event,
    still_allowed: StillAllowed,
) -> None:
    """Send the subscription's messages (of the cameras the user may see) until the client
    disconnects or may no longer watch (then close code 1008).

    The subscription is drained without blocking (`get(timeout=0)`); when it is empty the
    sender sleeps `WS_POLL_S`.
    """

    async def send() -> bool:
        get: Callable[..., Any] = subscription.get
        while not closing.is_set():
            if not await still_allowed():
                return True
            message = get(timeout=0)
            if message is None:
                await asyncio.sleep(WS_POLL_S)
                continue
            source = _camera_of(message)
            cameras = still_allowed.principal.cameras
            if (camera is not None and source != camera) or (
                cameras is not None and source not in cameras
            ):
                continue
            text = json.dumps(
                json_value(ws_payload(message), replace_invalid=True), allow_nan=False
            )
            await websocket.send_text(text)
        return False

    await _serve_websocket(websocket, send(), closing)


async def _send_live_frames(
    websocket: WebSocket,
    state: ServiceState,
    viewers: LiveViewers,
    period: float,
    still_allowed: StillAllowed,
) -> bool:
    """Each camera's new live frame (of the cameras the user may see), polled every
    `period`, watching those cameras meanwhile; True when the user may no longer watch."""
    sent: dict[str, float] = {}
    watched: dict[str, bool] = {}  # camera -> watched with its unmasked picture
    followers: dict[str, _ViewFollower] = {}
    try:
        while not state.closing.is_set():
            if not await still_allowed():
                return True
            principal = still_allowed.principal
            shown = {c for c in state.cameras if principal.can_see(c)}
            for camera_id in shown - watched.keys():
                # The grid is never unmasked: a lifted user opens the camera's own view.
                view = await asyncio.to_thread(requested_view, state, principal, camera_id, False)
                await asyncio.to_thread(audit_view, websocket, principal, view, "live", camera_id)
                viewers.add(camera_id, view.unmasked_picture)
                watched[camera_id] = view.unmasked_picture
                followers[camera_id] = _ViewFollower(state, view)
            for camera_id in watched.keys() - shown:
                viewers.remove(camera_id, watched.pop(camera_id))
            for camera_id in list(state.cameras):
                frame = state.live_frame(camera_id)
                if (
                    camera_id not in shown
                    or frame is None
                    or sent.get(camera_id) == frame.wall_time
                ):
                    continue
                current = await followers[camera_id](principal)
                if current is None:
                    continue
                await websocket.send_bytes(camera_id.encode() + b"\n" + live_jpeg(frame, current))
                sent[camera_id] = frame.wall_time
            await asyncio.sleep(period)
        return False
    finally:
        for camera_id, unmasked in watched.items():
            viewers.remove(camera_id, unmasked)


async def _serve_websocket(
    websocket: WebSocket, sender: Coroutine[Any, Any, bool], closing: threading.Event
) -> None:
    """Run `sender` (True when it stopped because the user may no longer watch) until it
    returns or the client disconnects, then close. A second task reads from the client,
    only to notice it leave."""
    revoked = False

    async def send() -> None:
        nonlocal revoked
        revoked = await sender

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError
            ):
                await task
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        # 1001: going away; 1008: policy violation (logged out, removed, restricted)
        await websocket.close(code=1008 if revoked else 1001 if closing.is_set() else 1000)
