"""The HTTP API of `vigil serve` (FastAPI; schema at ``/openapi.json``, docs at ``/docs``).

`create_app(state)` builds the application from a `ServiceState`; it knows nothing of the
server, so the supervisor runs it with uvicorn (bound to 127.0.0.1 by default) and the tests
with a TestClient. Routes:

* ``GET /api/health``, ``GET /api/cameras``, ``GET /api/cameras/{id}``
* ``GET /api/cameras/{id}/latest.jpg``, ``GET /api/cameras/{id}/live.mjpeg``
* ``GET /api/events`` (filters, newest first, limit/offset with the total),
  ``GET /api/events/{id}``, ``.../snapshot.jpg``, ``.../clip.mp4``
* ``GET /api/recordings``, ``GET /api/recordings/segments/{id}.mp4``,
  ``GET /api/recordings/export``
* ``GET /api/counts`` (line-crossing and occupancy time series)
* ``WS /api/ws`` (events and per-frame object metadata as JSON), ``WS /api/live`` (every
  camera's live JPEGs over one connection)
* ``GET /metrics`` (Prometheus, see `vigil.service.metrics`)

Every route but ``/api/health`` and the login and first-run setup needs a user
(`vigil.auth`: session cookie or API token; viewer, operator or admin; optionally limited to
some cameras), and the auth routes themselves are ``/api/auth/*``, ``/api/users`` and
``/api/audit`` (`vigil.auth.routes`).

Times in and out are seconds since the epoch (queries also take ISO 8601 date-times).
Event times are the events' own ``start_time``, which the service records in wall-clock
seconds. Unknown cameras and events are 404 ``{"detail": "..."}``; malformed parameters
are FastAPI's 422.

Everything that touches the database or the disk is a plain ``def`` route (FastAPI runs
those in its thread pool); the streaming routes are ``async`` and never block the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from starlette.background import BackgroundTask
from starlette.websockets import WebSocketDisconnect
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import vigil
from vigil.auth import AuthStore, Principal, allow, audit
from vigil.auth.policy import StillAllowed
from vigil.auth.routes import document_security
from vigil.auth.routes import router as auth_router
from vigil.events.event import Event
from vigil.events.store import EventStore, OccupancyBucket
from vigil.recording.retention import disk_pressure
from vigil.service.body_limits import BodyGuard, safe_validation_errors
from vigil.service.config_api import router as config_router
from vigil.service.messages import EventMessage, FrameMetadata, event_to_dict
from vigil.service.metrics import add_metrics_route
from vigil.service.state import CameraInfo, ServiceState, safe_name
from vigil.service.web import mount as mount_dashboard

__all__ = ["compute_counts", "create_app"]

MJPEG_BOUNDARY = "vigilframe"
MJPEG_KEEPALIVE_S = 2.0  # resend the latest frame this often even when it has not changed
WS_POLL_S = 0.05  # how often an idle WebSocket looks at its subscription
WS_QUEUE = 1000  # messages buffered per WebSocket client (oldest dropped beyond)
MAX_LIST_RANGE_S = 24 * 3600.0  # longest range of GET /api/recordings
MAX_EXPORT_S = 3 * 3600.0  # longest range of GET /api/recordings/export
MAX_BUCKETS = 10_000  # most intervals in one GET /api/counts
_TMP_PREFIX = ".tmp-"
_TMP_MAX_AGE_S = 3600.0  # temporary exports older than this are swept
_CLIP_SETTLE_S = 300.0  # after this long past its end, a clip is cached even if footage is short

# --------------------------------------------------------------------------- time parameters


def parse_time(value: Any) -> float:
    """Seconds since the epoch from a number or an ISO 8601 date-time (UTC when naive)."""
    if isinstance(value, bool):
        raise ValueError("must be seconds since the epoch or an ISO 8601 date-time")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    "must be seconds since the epoch or an ISO 8601 date-time"
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            try:
                seconds = moment.timestamp()
            except (OverflowError, OSError, ValueError):
                raise ValueError("date-time out of range") from None
    else:
        raise ValueError("must be seconds since the epoch or an ISO 8601 date-time")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number")
    return seconds


Timestamp = Annotated[
    float,
    BeforeValidator(parse_time),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
            "description": "Seconds since the epoch, or an ISO 8601 date-time (UTC if naive).",
        }
    ),
]


def _bad_param(name: str, message: str, value: Any) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


#: Route parameters that authenticate the request and enforce the role and the camera.
Viewer = Annotated[Principal, Depends(allow("viewer"))]
Operator = Annotated[Principal, Depends(allow("operator"))]

# --------------------------------------------------------------------------- response models


class ErrorBody(BaseModel):
    detail: str


#: A camera's state as the worker reports it ("starting", "online", "reconnecting", "ended",
#: "stopped", ...), or "unknown" before its first report. A plain string, so a state added
#: on the worker's side never turns into a server error here.
ApiCameraState = str


class CameraStatusOut(BaseModel):
    """The camera worker's latest status; counts are since that worker started."""

    state: ApiCameraState
    updated_at: float = Field(description="When the worker sent it (seconds since the epoch).")
    age_s: float = Field(description="Seconds since then; stale beyond a few seconds.")
    fps_in: float
    fps_processed: float
    frames_in: int
    frames_processed: int
    frames_dropped: int
    reconnects: int
    detector_latency_ms: float
    queue_depth: int
    recording_lag_s: float
    recording: str = Field(
        description="on; off (the camera's record mode is off); or 'unsupported: CODEC': "
        "the stream's codec (an MJPEG camera) cannot be recorded as browser-playable MP4 "
        "without re-encoding, so the camera is analysed but not recorded."
    )
    counters: dict[str, dict[str, float]] = Field(description="App name -> live counters.")
    error: str | None = None


class CameraOut(BaseModel):
    id: str
    name: str
    url: str = Field(description="The stream URL without credentials.")
    enabled: bool
    state: ApiCameraState = Field(description="'unknown' until the worker first reports.")
    up: bool = Field(description="Online and reported recently.")
    live_url: str
    latest_url: str


class AppStateOut(BaseModel):
    """An app instance of the camera and how it runs (no settings: those are admin's)."""

    type: str
    name: str
    enabled: bool
    state: str = Field(
        description="running, failing (it raised: skipped for `backoff_s`), restarting (a "
        "sandboxed app's process), failed, stopped (disabled), starting (before the camera's "
        "first frame), unknown (no report yet)."
    )
    restarts: int
    last_error: str | None
    counters: dict[str, float] = Field(description="The instance's live counters.")
    errors: int = Field(0, description="Calls into the app that raised, since it started.")
    rejected: int = Field(0, description="Events and counter names of the app refused.")
    backoff_s: float = Field(0.0, description="Seconds a failing app is still skipped for.")
    sandboxed: bool | None = Field(
        None, description="Store apps: false when it runs without bubblewrap (limits only)."
    )
    memory_cgroup: bool | None = Field(
        None,
        description="Store apps: false when no memory cgroup limits it (address-space limit "
        "only); None for built-ins or before it starts.",
    )


class CameraDetail(CameraOut):
    status: CameraStatusOut | None
    apps: list[AppStateOut] = Field(
        description="The camera's configured app instances with the worker's latest report."
    )
    totals: dict[str, float] = Field(
        description="Frames in/processed/dropped and reconnects since the service started, "
        "across worker restarts."
    )
    live_frame_at: float | None = Field(description="Time of the latest live JPEG, if any.")


class Health(BaseModel):
    """Public liveness: no camera names, no version (those need a login)."""

    ok: bool = Field(description="True when every enabled camera is up.")
    status: Literal["ok", "degraded"] = Field(
        description="degraded: a camera is down or the disk is under pressure."
    )
    time: float
    uptime_s: float
    disk_pressure: bool = Field(
        description="The storage disk is near its free-space floor (`storage.min_free_mb`): "
        "recording is about to pause, and retention deletes footage events still reference."
    )


class EventOut(BaseModel):
    id: str
    camera: str
    app: str
    type: str
    state: Literal["instant", "start", "update", "end"]
    start_time: float
    end_time: float | None
    frame_index: int
    track_id: int | None
    class_id: int | None
    class_name: str | None
    zone: str | None
    line: str | None
    attributes: dict[str, Any]
    snapshot_url: str | None = Field(description="The JPEG of the event's first frame, if kept.")
    clip_url: str = Field(description="The event's clip with pre- and post-roll.")


class EventPage(BaseModel):
    total: int = Field(description="Events matching the filters, over all pages.")
    limit: int
    offset: int
    items: list[EventOut]


class SegmentOut(BaseModel):
    id: int | None = None
    start_time: float
    end_time: float
    duration_s: float
    size_bytes: int
    motion: bool = Field(description="Motion was seen while it was recorded.")
    objects: bool = Field(description="Tracked objects were seen while it was recorded.")


class GapOut(BaseModel):
    start: float
    end: float
    duration_s: float


class RecordingsOut(BaseModel):
    camera: str
    start: float
    end: float
    recorded_s: float = Field(description="Seconds of footage in the range.")
    segments: list[SegmentOut]
    gaps: list[GapOut]


class CrossingSeries(BaseModel):
    """Line crossings of one line, class and direction, one count per bucket."""

    camera: str
    app: str
    line: str | None
    class_name: str | None
    direction: str
    total: int
    counts: list[int]


class OccupancySeries(BaseModel):
    """Occupancy samples of one app and zone, summarised per bucket (null: no sample)."""

    camera: str
    app: str
    zone: str | None
    samples: int
    max: list[int | None]
    mean: list[float | None]
    last: list[int | None]


class CountsOut(BaseModel):
    interval: int
    since: float | None
    until: float | None
    buckets: list[float] = Field(description="Start time of each interval.")
    line_crossings: list[CrossingSeries]
    occupancy: list[OccupancySeries]


# --------------------------------------------------------------------------- counts


def compute_counts(
    store: EventStore,
    *,
    camera: str | None = None,
    app: str | None = None,
    interval: int = 3600,
    since: float | None = None,
    until: float | None = None,
    cameras: frozenset[str] | None = None,
) -> CountsOut:
    """Line-crossing counts per interval, line, class and direction (from ``line_crossing``
    events) and occupancy per interval (from the ``occupancy`` samples), aggregated by the
    database (indexed, whatever the number of events).

    Buckets start at `since` when given, otherwise at the first event's interval aligned to
    the epoch (so hourly buckets fall on the hour); they end at `until` when given,
    otherwise with the last event. `cameras` (None: all) keeps only those cameras' events.
    Raises ValueError for a range of more than `MAX_BUCKETS` intervals.
    """
    filters: dict[str, Any] = {"source": camera, "app": app, "since": since, "until": until}
    filters["sources"] = cameras
    span = None
    if since is None or until is None:
        span = store.time_range(("line_crossing", "occupancy"), **filters)
    if since is not None:
        origin: float | None = since
    elif span is not None:
        origin = math.floor(span[0] / interval) * interval
    else:
        origin = None
    if origin is None:
        n = 0
    elif until is not None:
        n = max(0, math.ceil((until - origin) / interval))
    elif span is not None:
        n = int((span[1] - origin) // interval) + 1
    else:
        n = 0
    if n > MAX_BUCKETS:
        raise ValueError(
            f"{n} intervals of {interval} s: at most {MAX_BUCKETS}; narrow since/until or "
            "widen the interval"
        )
    if origin is None or n == 0:
        return CountsOut(
            interval=interval,
            since=since,
            until=until,
            buckets=[],
            line_crossings=[],
            occupancy=[],
        )

    cross: dict[tuple[str, str, str | None, str | None, str], list[int]] = {}
    for c in store.crossing_counts(origin, interval, n, **filters):
        key = (c.source, c.app, c.line, c.class_name, c.direction)
        cross.setdefault(key, [0] * n)[c.bucket] += c.count
    occ: dict[tuple[str, str, str | None], list[OccupancyBucket | None]] = {}
    for b in store.occupancy_buckets(origin, interval, n, **filters):
        occ.setdefault((b.source, b.app, b.zone), [None] * n)[b.bucket] = b

    return CountsOut(
        interval=interval,
        since=since,
        until=until,
        buckets=[origin + k * interval for k in range(n)],
        line_crossings=[
            CrossingSeries(
                camera=k[0],
                app=k[1],
                line=k[2],
                class_name=k[3],
                direction=k[4],
                total=sum(v),
                counts=v,
            )
            for k, v in sorted(cross.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
        ],
        occupancy=[
            OccupancySeries(
                camera=k[0],
                app=k[1],
                zone=k[2],
                samples=sum(b.samples for b in v if b),
                max=[b.max if b else None for b in v],
                mean=[round(b.total / b.samples, 3) if b else None for b in v],
                last=[b.last if b else None for b in v],
            )
            for k, v in sorted(occ.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
        ],
    )


# --------------------------------------------------------------------------- recordings


def _recording_module() -> ModuleType:
    """`vigil.recording.export` (`export`, `event_clip`, `RecordingError`), imported on
    first use: the rest of the API works without it."""
    from vigil.recording import export

    return export


def _export_errors(recording: ModuleType) -> tuple[type[BaseException], ...]:
    """What an export raises for footage that is not there (answered 404)."""
    errors: tuple[type[BaseException], ...] = (LookupError, ValueError, FileNotFoundError)
    recording_error = getattr(recording, "RecordingError", None)
    if isinstance(recording_error, type) and issubclass(recording_error, BaseException):
        errors += (recording_error,)
    return errors


def _recording_or_404(state: ServiceState) -> tuple[Any, ModuleType]:
    if state.index is None:
        raise HTTPException(404, "recording is not enabled on this service")
    try:
        return state.index, _recording_module()
    except ImportError as err:
        raise HTTPException(404, f"recording is not available: {err}") from None


def _segment_out(seg: Any) -> SegmentOut:
    """A `vigil.recording.index.Segment` (or a `SegmentInfo`) on the API: no file path."""
    segment_id = getattr(seg, "id", None)
    return SegmentOut(
        id=segment_id if isinstance(segment_id, int) else None,
        start_time=seg.start_time,
        end_time=seg.end_time,
        duration_s=round(seg.end_time - seg.start_time, 3),
        size_bytes=seg.size_bytes,
        motion=seg.motion,
        objects=seg.objects,
    )


def _temp_path(directory: Path, suffix: str = ".mp4") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _sweep_temp(directory)
    return directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}{suffix}"


def _sweep_temp(directory: Path) -> None:
    """Delete temporary exports left behind (a client that went away mid-download)."""
    cutoff = time.time() - _TMP_MAX_AGE_S
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(_TMP_PREFIX):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _exported(result: Any, out: Path) -> Path | None:
    """The file an export wrote: its return value when that is a path, else `out`."""
    path = Path(result) if isinstance(result, (str, os.PathLike)) else out
    return path if path.is_file() and path.stat().st_size > 0 else None


# --------------------------------------------------------------------------- the app


def create_app(
    state: ServiceState, auth: AuthStore | None = None, trusted_proxies: Sequence[str] = ()
) -> FastAPI:
    """The API over `state`, with ``/metrics``; independent of the server that runs it.

    Every route but the login, the first-run setup and ``/api/health`` needs a user
    (`vigil.auth`); `auth` defaults to an `AuthStore` on the events database. Request
    bodies are capped and checked (`vigil.service.body_limits`). ``X-Forwarded-For`` is
    believed only from `trusted_proxies` (addresses or networks; by default the site's
    ``server.trusted_proxies``): from anyone else it would let a client pick the address
    that login limits and the audit log see.
    """
    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: the dashboard serves its own
        redoc_url=None,  # ReDoc too: a CDN, and /docs covers it
        description=(
            "The live API of `vigil serve`: cameras and their status, events with snapshots "
            "and clips, recordings, counts, live views and metrics.\n\n"
            "`WS /api/ws` (not listed below: OpenAPI has no WebSockets) streams JSON "
            'messages `{"kind": "event", ...}` and `{"kind": "objects", ...}`; query '
            "`camera=<id>` keeps one camera, `objects=false` events only. `WS /api/live` "
            "sends every camera's live JPEG as binary messages (camera id, newline, JPEG), "
            "at most `fps` (default 5) per camera per second."
        ),
    )
    app.state.vigil = state
    app.state.auth = auth if auth is not None else AuthStore(state.events.engine)
    app.add_middleware(BodyGuard)
    app.add_exception_handler(RequestValidationError, safe_validation_errors)
    proxies = list(trusted_proxies or (state.site.server.trusted_proxies if state.site else []))
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    app.state.live_streams = 0
    app.state.ws_clients = 0
    error_responses: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "Not logged in (no session or API token)"},
        403: {"model": ErrorBody, "description": "The user's role or cameras do not allow it"},
        404: {"model": ErrorBody, "description": "Unknown camera or event, or no such file"},
    }
    app.include_router(auth_router)
    app.include_router(config_router)

    def camera_or_404(camera_id: str) -> CameraInfo:
        camera = state.camera(camera_id)
        if camera is None:
            raise HTTPException(404, f"unknown camera {camera_id!r}")
        return camera

    def event_or_404(event_id: str, principal: Principal) -> Event:
        """The event, if the principal may see its camera (otherwise it is not there)."""
        event = state.events.get(event_id)
        if event is None or not principal.can_see(event.source):
            raise HTTPException(404, f"unknown event {event_id!r}")
        return event

    def url_for(request: Request, name: str, **params: str) -> str:
        return request.scope.get("root_path", "") + str(app.url_path_for(name, **params))

    def camera_state(camera_id: str) -> ApiCameraState:
        status = state.status(camera_id)
        return "unknown" if status is None else status.state

    def camera_out(request: Request, camera: CameraInfo) -> dict[str, Any]:
        return {
            "id": camera.id,
            "name": camera.name,
            "url": camera.url,
            "enabled": camera.enabled,
            "state": camera_state(camera.id),
            "up": state.is_up(camera.id),
            "live_url": url_for(request, "camera_live", camera_id=camera.id),
            "latest_url": url_for(request, "camera_latest", camera_id=camera.id),
        }

    def event_out(request: Request, event: Event) -> EventOut:
        snapshot = state.snapshot_path(event)
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
            attributes=json_safe(event.attributes),
            snapshot_url=None
            if snapshot is None
            else url_for(request, "event_snapshot", event_id=event.id),
            clip_url=url_for(request, "event_clip", event_id=event.id),
        )

    # ------------------------------------------------------------------ health, cameras

    @app.get("/api/health", response_model=Health, tags=["service"])
    async def health() -> Health:
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

    @app.get(
        "/api/cameras", response_model=list[CameraOut], responses=error_responses, tags=["cameras"]
    )
    async def list_cameras(request: Request, principal: Viewer) -> list[dict[str, Any]]:
        """The configured cameras (those the user may see) with their current state."""
        return [camera_out(request, c) for c in state.cameras.values() if principal.can_see(c.id)]

    @app.get(
        "/api/cameras/{camera_id}",
        response_model=CameraDetail,
        responses=error_responses,
        tags=["cameras"],
    )
    async def get_camera(camera_id: str, request: Request, _: Viewer) -> dict[str, Any]:
        """One camera with its worker's latest status (rates, drops, latency, counters) and
        its app instances: each one's state, restarts, last error and live counters."""
        camera = camera_or_404(camera_id)
        status = state.status(camera_id)
        status_out = None
        if status is not None:
            status_out = CameraStatusOut(
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
                counters=json_safe(status.counters),
                error=status.error,
            )
        live = state.live_frame(camera_id)
        return {
            **camera_out(request, camera),
            "status": status_out,
            "apps": _app_states(state, camera_id),
            "totals": state.metrics.counter_totals().get(camera_id, {}),
            "live_frame_at": None if live is None else live.wall_time,
        }

    @app.get(
        "/api/cameras/{camera_id}/latest.jpg",
        name="camera_latest",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **error_responses},
        tags=["live"],
    )
    async def camera_latest(camera_id: str, _: Viewer) -> Response:
        """The camera's latest annotated frame (boxes, zones, lines) as a JPEG."""
        camera_or_404(camera_id)
        frame = state.live_frame(camera_id)
        if frame is None:
            raise HTTPException(404, f"no frame from camera {camera_id!r} yet")
        return Response(
            frame.jpeg,
            media_type="image/jpeg",
            headers={"Cache-Control": "no-store", "X-Frame-Time": f"{frame.wall_time:.3f}"},
        )

    @app.get(
        "/api/cameras/{camera_id}/live.mjpeg",
        name="camera_live",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}": {}},
                "description": "An endless MJPEG stream of the annotated live frames.",
            },
            **error_responses,
        },
        tags=["live"],
    )
    async def camera_live(
        camera_id: str,
        request: Request,
        principal: Viewer,
        fps: Annotated[float, Query(gt=0, le=30, description="Most frames per second.")] = 5.0,
        frames: Annotated[
            int | None, Query(ge=1, le=1_000_000, description="Stop after this many frames.")
        ] = None,
    ) -> StreamingResponse:
        """The camera's annotated live view as MJPEG (`<img src=...>` plays it)."""
        camera_or_404(camera_id)
        return StreamingResponse(
            _mjpeg(
                app,
                state,
                camera_id,
                request,
                1.0 / fps,
                frames,
                StillAllowed(request, principal, "viewer"),
            ),
            media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ------------------------------------------------------------------ events

    @app.get("/api/events", response_model=EventPage, responses=error_responses, tags=["events"])
    def list_events(
        request: Request,
        principal: Viewer,
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
        filters = {
            "source": camera,
            "app": app_name,
            "type": type,
            "class_name": class_name,
            "since": since,
            "until": until,
        }
        # A camera-restricted user's list holds only their cameras' events.
        sources = principal.cameras
        total = state.events.count(**filters, sources=sources)
        events = state.events.query(
            **filters, sources=sources, limit=limit, offset=offset, newest_first=True
        )
        return EventPage(
            total=total,
            limit=limit,
            offset=offset,
            items=[event_out(request, e) for e in events],
        )

    @app.get(
        "/api/events/{event_id}",
        response_model=EventOut,
        responses=error_responses,
        tags=["events"],
    )
    def get_event(event_id: str, request: Request, principal: Viewer) -> EventOut:
        """One event."""
        return event_out(request, event_or_404(event_id, principal))

    @app.get(
        "/api/events/{event_id}/snapshot.jpg",
        name="event_snapshot",
        response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}}}, **error_responses},
        tags=["events"],
    )
    def event_snapshot(event_id: str, principal: Viewer) -> FileResponse:
        """The JPEG of the event's first frame, with boxes, zones and lines drawn."""
        event = event_or_404(event_id, principal)
        path = state.snapshot_path(event)
        if path is None:
            raise HTTPException(404, f"event {event_id!r} has no snapshot")
        return FileResponse(path, media_type="image/jpeg")

    @app.get(
        "/api/events/{event_id}/clip.mp4",
        name="event_clip",
        response_class=FileResponse,
        responses={200: {"content": {"video/mp4": {}}}, **error_responses},
        tags=["events"],
    )
    def event_clip(event_id: str, request: Request, principal: Operator) -> FileResponse:
        """The event's footage with pre- and post-roll (5 s by default) as one MP4.

        Cut on first request and kept in the exports folder once the event has ended and its
        footage is all recorded. An event still going on gets its footage so far (not kept).
        At most three hours from the event's start. Audited (``playback.clip``).
        """
        event = event_or_404(event_id, principal)
        index, recording = _recording_or_404(state)
        audit(request, principal, "playback.clip", event.id, {"camera": event.source})
        camera = state.camera(event.source)
        pre = camera.pre_roll if camera else 5.0
        post = camera.post_roll if camera else 5.0
        finished = event.state in ("instant", "end")
        if not finished:
            post = 0.0
        last = event.end_time if event.end_time is not None else event.start_time
        if not finished:
            last = max(last, state.clock())
        last = min(last, event.start_time + MAX_EXPORT_S)  # an event left open forever
        start, end = event.start_time - pre, last + post
        filename = f"{event.source}-{event.type}-{event.id}.mp4"
        cached = state.exports_dir / "clips" / f"{event.id}.mp4" if safe_name(event.id) else None
        if cached is not None and cached.is_file():
            return FileResponse(cached, media_type="video/mp4", filename=filename)
        segments = list(index.between(event.source, start, end))
        if not segments:
            raise HTTPException(404, f"no recording covers event {event_id!r}")
        tmp = _temp_path(state.exports_dir / "clips")
        try:
            result = recording.event_clip(
                index, event.source, event.start_time, last, tmp, pre_roll=pre, post_roll=post
            )
        except _export_errors(recording) as err:
            _unlink(tmp)
            raise HTTPException(404, f"no clip for event {event_id!r}: {err}") from None
        path = _exported(result, tmp)
        if path is None:
            _unlink(tmp)
            raise HTTPException(404, f"no clip for event {event_id!r}")
        recorded_to = max(s.end_time for s in segments)
        complete = recorded_to >= end - 0.5 or state.clock() > end + _CLIP_SETTLE_S
        if cached is not None and finished and complete:
            os.replace(path, cached)
            return FileResponse(cached, media_type="video/mp4", filename=filename)
        return FileResponse(
            path,
            media_type="video/mp4",
            filename=filename,
            background=BackgroundTask(_unlink, path),
        )

    # ------------------------------------------------------------------ recordings

    @app.get(
        "/api/recordings",
        response_model=RecordingsOut,
        responses=error_responses,
        tags=["recordings"],
    )
    def list_recordings(
        _: Operator,
        camera: str,
        start: Annotated[
            Timestamp | None, Query(description="Default: an hour before end.")
        ] = None,
        end: Annotated[Timestamp | None, Query(description="Default: now.")] = None,
    ) -> RecordingsOut:
        """The camera's recorded segments in a time range, and the gaps between them."""
        camera_or_404(camera)
        end_ = state.clock() if end is None else end
        start_ = end_ - 3600.0 if start is None else start
        _check_range(start_, end_, MAX_LIST_RANGE_S)
        index, _ = _recording_or_404(state)
        segments = [_segment_out(s) for s in index.between(camera, start_, end_)]
        segments.sort(key=lambda s: s.start_time)
        gaps = [
            GapOut(start=a, end=b, duration_s=round(b - a, 3))
            for a, b in index.gaps(camera, start_, end_, edges=True)
        ]
        recorded = sum(
            max(0.0, min(s.end_time, end_) - max(s.start_time, start_)) for s in segments
        )
        return RecordingsOut(
            camera=camera,
            start=start_,
            end=end_,
            recorded_s=round(recorded, 3),
            segments=segments,
            gaps=gaps,
        )

    @app.get(
        "/api/recordings/segments/{segment_id}.mp4",
        name="recording_segment",
        response_class=FileResponse,
        responses={
            200: {"content": {"video/mp4": {}}},
            206: {"content": {"video/mp4": {}}, "description": "The requested byte range."},
            **error_responses,
        },
        tags=["recordings"],
    )
    def recording_segment(
        segment_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
        request: Request,
        principal: Operator,
    ) -> FileResponse:
        """One recorded segment (``id`` from ``GET /api/recordings``) as its MP4, with HTTP
        Range requests, so a ``<video>`` can seek in it. Audited (``playback.segment``) once
        per playback: the request that starts at byte 0, not every range after it."""
        index, _ = _recording_or_404(state)
        segment = index.get(segment_id)
        # A segment of a camera the user may not see is not there for them.
        if segment is None or not principal.can_see(segment.camera):
            raise HTTPException(404, f"unknown segment {segment_id}")
        path = Path(segment.path)
        if not path.is_file():
            raise HTTPException(404, f"segment {segment_id} has no file (deleted by retention?)")
        if request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-"):
            audit(
                request,
                principal,
                "playback.segment",
                segment.camera,
                {"segment": segment_id, "start": segment.start_time, "end": segment.end_time},
            )
        return FileResponse(
            path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"}
        )

    @app.get(
        "/api/recordings/export",
        response_class=FileResponse,
        responses={200: {"content": {"video/mp4": {}}}, **error_responses},
        tags=["recordings"],
    )
    def export_recording(
        request: Request, principal: Operator, camera: str, start: Timestamp, end: Timestamp
    ) -> FileResponse:
        """A time range of the camera's recording as one MP4 (at most three hours).
        Audited (``export``)."""
        camera_or_404(camera)
        _check_range(start, end, MAX_EXPORT_S)
        index, recording = _recording_or_404(state)
        audit(request, principal, "export", camera, {"start": start, "end": end})
        if not list(index.between(camera, start, end)):
            raise HTTPException(404, f"nothing recorded for camera {camera!r} in that range")
        tmp = _temp_path(state.exports_dir)
        try:
            result = recording.export(index, camera, start, end, tmp)
        except _export_errors(recording) as err:
            _unlink(tmp)
            raise HTTPException(404, f"nothing to export: {err}") from None
        path = _exported(result, tmp)
        if path is None:
            _unlink(tmp)
            raise HTTPException(404, f"nothing recorded for camera {camera!r} in that range")
        try:
            stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")
        except (OverflowError, OSError, ValueError):
            stamp = f"{start:.0f}"
        return FileResponse(
            path,
            media_type="video/mp4",
            filename=f"{camera}-{stamp}-{round(end - start)}s.mp4",
            background=BackgroundTask(_unlink, path),
        )

    # ------------------------------------------------------------------ counts

    @app.get("/api/counts", response_model=CountsOut, responses=error_responses, tags=["events"])
    def counts(
        principal: Viewer,
        camera: str | None = None,
        app_name: Annotated[str | None, Query(alias="app")] = None,
        interval: Annotated[int, Query(ge=1, le=366 * 86400, description="Seconds.")] = 3600,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
    ) -> CountsOut:
        """Line crossings per interval, line, class and direction, and occupancy per interval
        (max, mean and last sample), as time series over the same buckets."""
        if since is not None and until is not None and until <= since:
            raise _bad_param("until", "must be after since", until)
        try:
            return compute_counts(
                state.events,
                camera=camera,
                app=app_name,
                interval=interval,
                since=since,
                until=until,
                cameras=principal.cameras,
            )
        except ValueError as err:
            raise _bad_param("interval", str(err), interval) from None

    # ------------------------------------------------------------------ WebSocket

    @app.websocket("/api/ws")
    async def stream(
        websocket: WebSocket,
        principal: Viewer,
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
        app.state.ws_clients += 1
        try:
            await websocket.accept()
            still_allowed = StillAllowed(websocket, principal, "viewer")
            await _run_websocket(websocket, subscription, camera, state.closing, still_allowed)
        finally:
            subscription.close()
            app.state.ws_clients -= 1

    @app.websocket("/api/live")
    async def live_frames(
        websocket: WebSocket,
        principal: Viewer,
        fps: Annotated[float, Query(gt=0, le=30)] = 5.0,
    ) -> None:
        """Every camera's annotated live frames (of the cameras the user may see) over one
        connection: a browser opens at most 6 HTTP/1.1 connections to a host and an MJPEG
        stream holds one for good, so a grid of many cameras shares this one instead. Binary
        messages: the camera id in UTF-8, a newline, the JPEG; a camera's frame is sent
        when it is new, at most `fps` per second."""
        await websocket.accept()
        app.state.live_streams += 1
        try:
            still_allowed = StillAllowed(websocket, principal, "viewer")
            sender = _send_live_frames(websocket, state, 1.0 / fps, still_allowed)
            await _serve_websocket(websocket, sender, state.closing)
        finally:
            app.state.live_streams -= 1

    add_metrics_route(
        app,
        state,
        viewer=allow("operator"),
        responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    )
    document_security(app)
    mount_dashboard(app, state)
    return app


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
    out = []
    for type_, name, enabled in configured:
        report = reports.get(name)
        out.append(
            AppStateOut(
                type=type_,
                name=name,
                enabled=enabled,
                state=report.state if report is not None else "unknown",
                restarts=report.restarts if report is not None else 0,
                last_error=report.last_error if report is not None else None,
                counters=json_safe(report.counters) if report is not None else {},
                errors=report.errors if report is not None else 0,
                rejected=report.rejected if report is not None else 0,
                backoff_s=round(report.backoff_s, 1) if report is not None else 0.0,
                sandboxed=report.sandboxed if report is not None else None,
                memory_cgroup=report.memory_cgroup if report is not None else None,
            )
        )
    return out


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


def _check_range(start: float, end: float, longest: float) -> None:
    if end <= start:
        raise _bad_param("end", "must be after start", end)
    if end - start > longest:
        raise _bad_param("end", f"the range may span at most {longest:g} s", end)


# --------------------------------------------------------------------------- streaming


def _mjpeg_part(jpeg: bytes) -> bytes:
    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


async def _mjpeg(
    app: FastAPI,
    state: ServiceState,
    camera_id: str,
    request: Request,
    period: float,
    limit: int | None,
    still_allowed: StillAllowed,
) -> AsyncIterator[bytes]:
    """Each new live frame of the camera, at most one per `period`, until the client leaves
    or may no longer watch (logged out, removed, restricted).

    The latest frame is sent again every `MJPEG_KEEPALIVE_S` while the camera is quiet, so a
    client that went away is noticed even then.
    """
    app.state.live_streams += 1
    try:
        sent = 0
        last_frame: float | None = None
        last_sent = -math.inf
        while (limit is None or sent < limit) and not state.closing.is_set():
            frame = state.live_frame(camera_id)
            now = time.monotonic()
            if frame is not None and (
                frame.wall_time != last_frame or now - last_sent >= MJPEG_KEEPALIVE_S
            ):
                yield _mjpeg_part(frame.jpeg)
                sent += 1
                last_frame, last_sent = frame.wall_time, now
                if limit is not None and sent >= limit:
                    break
            await asyncio.sleep(period)
            if await request.is_disconnected() or not await still_allowed():
                break
    finally:
        app.state.live_streams -= 1


def json_safe(value: Any) -> Any:
    """`value` as strict JSON: numpy values as Python ones, tuples and sets as lists,
    NaN and infinities as null (browsers' JSON.parse rejects them, and Starlette refuses to
    render them), anything else unknown as its string."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [json_safe(v) for v in sorted(value, key=repr)]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return json_safe(value.tolist())
    return str(value)


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
            text = json.dumps(json_safe(ws_payload(message)), allow_nan=False)
            await websocket.send_text(text)
        return False

    await _serve_websocket(websocket, send(), closing)


async def _send_live_frames(
    websocket: WebSocket, state: ServiceState, period: float, still_allowed: StillAllowed
) -> bool:
    """Each camera's new live frame (of the cameras the user may see), polled every
    `period`; True when the user may no longer watch."""
    sent: dict[str, float] = {}
    while not state.closing.is_set():
        if not await still_allowed():
            return True
        cameras = still_allowed.principal.cameras
        for camera_id in list(state.cameras):
            frame = state.live_frame(camera_id)
            if frame is None or sent.get(camera_id) == frame.wall_time:
                continue
            if cameras is not None and camera_id not in cameras:
                continue
            await websocket.send_bytes(camera_id.encode() + b"\n" + frame.jpeg)
            sent[camera_id] = frame.wall_time
        await asyncio.sleep(period)
    return False


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
