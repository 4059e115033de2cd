"""The request and response bodies of the API (pydantic models), by domain.

Times in and out are seconds since the epoch; a `Timestamp` query parameter also takes an ISO
8601 date-time. The routes in `vigil.api.routes` declare these as their ``response_model``,
so the OpenAPI schema at ``/openapi.json`` documents them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from vigil.auth.passwords import MAX_PASSWORD, MIN_PASSWORD, USERNAME_PATTERN
from vigil.auth.principal import Role
from vigil.config.privacy import MaskedRole, MaskMode, MaskPart, RetentionLimits
from vigil.config.schema import LineConfig, Name, PolygonConfig, ZoneConfig
from vigil.events.event import json_value
from vigil.recording.rules import KeptDays
from vigil.service.messages import AppState, AppStatus

#: The least role that reads app settings (they may hold a webhook's token, say).
SETTINGS_ROLE: Role = "operator"

# --------------------------------------------------------------------------- common


class ErrorBody(BaseModel):
    detail: str


#: The errors every route that needs a user may answer, for its OpenAPI entry.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not logged in (no session or API token)"},
    403: {"model": ErrorBody, "description": "The user's role or cameras do not allow it"},
    404: {"model": ErrorBody, "description": "Unknown camera or event, or no such file"},
}
#: A cluster's file on a node that is down (playback, clips, exports, snapshots).
NODE_DOWN: dict[str, Any] = {
    "model": ErrorBody,
    "description": "The recording is on a cluster node that is down (the detail names it)",
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in (no session or API token)"},
    403: {"description": "The user's role or cameras do not allow it"},
}


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


def bad_param(name: str, message: str, value: Any) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


# --------------------------------------------------------------------------- cameras, events


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
    decoder: str = Field(
        description="What decodes the stream: cuda, vaapi (hardware), software, or 'software "
        "(DEVICE: reason)' where the camera's hwaccel device could not be used."
    )
    counters: dict[str, dict[str, float]] = Field(description="App name -> live counters.")
    error: str | None = None
    since: float | None = Field(
        None,
        description="Since when the camera is in this state: up, or down (any of the "
        "down states in a row, across worker restarts), seconds since the epoch.",
    )
    last_frame_at: float | None = Field(
        None, description="When a worker last received a picture (None: none yet)."
    )
    reason: str | None = Field(
        None,
        description='Why the camera is not online, in one line ("no frames for 12 s · '
        "rtsp://cam/1: connection refused\"); an online camera's analysis error.",
    )


class CameraPrivacyOut(BaseModel):
    """What the camera records for, what is masked for whom, and how long its data is kept:
    what a data-protection officer reads."""

    purpose: str = Field(description="Why this camera records (empty: not stated).")
    masked_classes: list[str] = Field(description="Tracked classes masked on what is served.")
    masked_for: list[MaskedRole] = Field(
        description="Roles served masked footage (until a user allowed to lifts the masks)."
    )
    mode: MaskMode
    part: MaskPart
    static_masks: int = Field(description="Polygons masked for everyone, always.")
    limits: RetentionLimits = Field(
        description="The camera's configured maximums in days (null: none set)."
    )
    kept_days: KeptDays = Field(
        description="The longest each kind of data is kept, in days, from the maximums, the "
        "record settings and the site's event retention (null: no time limit; the disk "
        "budget may keep less). Boxes: the per-frame tracked boxes stored with recordings."
    )


class CameraOut(BaseModel):
    id: str
    name: str
    url: str = Field(description="The stream URL without credentials.")
    enabled: bool
    state: ApiCameraState = Field(description="'unknown' until the worker first reports.")
    up: bool = Field(description="Online and reported recently.")
    since: float | None = Field(
        None, description="Since when it is up, or down (seconds since the epoch)."
    )
    reason: str | None = Field(
        None, description="Why it is not up, in one line (None when up or not reported yet)."
    )
    live_url: str
    latest_url: str
    node: str | None = Field(
        default=None,
        description="The cluster node it runs on; null on a single box or while unassigned.",
    )
    privacy: CameraPrivacyOut


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


def app_report(report: AppStatus | None) -> dict[str, Any]:
    """The fields of `AppStateOut` and `AppRun` that a worker's report of an app instance
    fills in ("unknown", without errors or counters, before its first report)."""
    if report is None:
        return {"state": "unknown", "restarts": 0, "last_error": None, "counters": {}}
    return {
        "state": report.state,
        "last_error": report.last_error,
        "restarts": report.restarts,
        "counters": json_value(report.counters, replace_invalid=True),
        "version": report.version,
        "sandboxed": report.sandboxed,
        "memory_cgroup": report.memory_cgroup,
        "errors": report.errors,
        "rejected": report.rejected,
        "backoff_s": round(report.backoff_s, 1),
    }


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
    box: list[float] | None = Field(
        None, description="The object's box at the snapshot: x1, y1, x2, y2 in pixels."
    )
    snapshot_url: str | None = Field(description="The JPEG of the event's first frame, if kept.")
    crop_url: str | None = Field(
        None, description="The JPEG of the event's object with a margin, if kept."
    )
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
    node: str | None = Field(
        default=None, description="The cluster node whose disk holds it; null on a single box."
    )


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


class TimelineSpanOut(BaseModel):
    """A stretch of recording on the timeline: footage from `start` to `end` (`recorded_s`
    of it: less where short gaps hide under the timeline's resolution) and whether any of
    its segments saw motion or objects."""

    start: float
    end: float
    recorded_s: float
    motion: bool
    objects: bool


class TimelineCameraOut(BaseModel):
    camera: str
    recorded_s: float = Field(description="Seconds of footage in the range.")
    spans: list[TimelineSpanOut]


class TimelineOut(BaseModel):
    start: float
    end: float
    bucket_s: float = Field(description="The resolution: footage is summed per this long.")
    cameras: list[TimelineCameraOut]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: str
    start: Timestamp
    end: Timestamp


class SubjectAccessIn(BaseModel):
    """A subject-access export: one person's footage, everyone else masked."""

    model_config = ConfigDict(extra="forbid")

    start: Timestamp | None = Field(None, description="Default: the event's clip start.")
    end: Timestamp | None = Field(None, description="Default: the event's clip end.")
    track_id: int | None = Field(None, ge=0, description="The person's track (or event_id).")
    event_id: str | None = Field(None, description="An event of the person's track.")
    reason: str = Field(min_length=3, max_length=2000, description="Why (kept in the record).")


class ExportJobOut(BaseModel):
    """An export running in the background (`POST /api/recordings/exports`)."""

    id: str
    camera: str
    start: float
    end: float
    state: Literal["queued", "running", "done", "failed"]
    percent: int = Field(description="How much of the footage is copied (0-100).")
    error: str | None = Field(description="Why it failed (state failed).")
    file_url: str | None = Field(description="Where to download the MP4 once done.")


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


# --------------------------------------------------------------------------- config, apps


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
    static_masks: list[PolygonConfig] | None = Field(
        None,
        description="The camera's static privacy masks (``privacy.static``): polygons masked "
        "for everyone and left out of motion and detection. Leave out to keep them.",
    )
    frame_size: tuple[int, int] | None = Field(
        None, description="Ignored on input (GET returns it; PUT accepts the same body)."
    )
    classes: list[str] | None = Field(
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
    static_masks: list[PolygonConfig] = Field(description="The static privacy masks.")
    frame_size: tuple[int, int] | None = Field(
        description="[width, height] of the camera's frames; null before its first frame."
    )
    revision: str | None = Field(description="Of the site file; null without one.")
    classes: list[str] = Field(
        description="The classes the detector finds (the site's `detector.classes`, by name): "
        "those an app on this camera can watch."
    )


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


# --------------------------------------------------------------------------- auth, users


Username = Name
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]
#: What a new user's name and password must be (`vigil.auth.passwords` checks the rest).
NewUsername = Annotated[str, Field(pattern=USERNAME_PATTERN)]
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
CameraIds = Annotated[list[Name], Field(max_length=1000)]


class Credentials(BaseModel):
    username: Username
    password: Password


class Me(BaseModel):
    username: str
    role: Role
    cameras: list[str] | None = Field(description="Camera ids the user may see; null: all.")


class LoginOut(Me):
    csrf_token: str = Field(description="Send it as X-CSRF-Token on POST/PUT/PATCH/DELETE.")


class SetupNeeded(BaseModel):
    needed: bool


class UserIn(BaseModel):
    username: NewUsername
    password: NewPassword
    role: Role = "viewer"
    cameras: CameraIds | None = None


class UserPatch(BaseModel):
    """Only the fields given change; ``cameras: null`` lifts the camera restriction."""

    role: Role | None = None
    cameras: CameraIds | None = None
    password: NewPassword | None = None
    unmask: CameraIds | None = Field(
        None, description='Cameras whose privacy masks the user may lift ("*": all; [] none).'
    )


class UserOut(BaseModel):
    username: str
    role: Role
    cameras: list[str] | None
    unmask: list[str] = Field(default_factory=list)
    created_at: float
    updated_at: float


class TokenIn(BaseModel):
    name: str | None = Field(
        None,
        max_length=100,
        description='What will use the token ("home-assistant"): how it is listed and revoked.',
    )


class TokenOut(BaseModel):
    token: str = Field(description="Shown once: only its hash is kept.")
    name: str | None = None


class TokenInfoOut(BaseModel):
    """An API token as listed: never its value."""

    id: int
    name: str | None = Field(description="None: made before tokens had names.")
    created_at: float
    last_used: float | None = Field(description="Updated at most once a minute.")


class AuditOut(BaseModel):
    id: int
    time: float
    username: str | None
    action: str
    target: str
    detail: dict[str, Any]
    client_ip: str | None


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AuditOut]


class PasswordChange(BaseModel):
    current: Password
    new: NewPassword


class RevokedOut(BaseModel):
    revoked: int


# --------------------------------------------------------------------------- cluster


class NodeOut(BaseModel):
    id: str = Field(description="The node's name (its Ray label `vigil-node`).")
    alive: bool
    head: bool = Field(description="The node the API and the coordinator run on.")
    address: str
    pids: list[int] = Field(description="Its Ray node's and Vigil's processes on its host.")
    cameras: list[str]
    capacity: int = Field(description="Cameras it may run.")
    load: float = Field(description="Cameras over capacity.")


class AssignmentOut(BaseModel):
    node: str
    epoch: int = Field(
        description="The lease's fencing token: writes under an older one are refused."
    )
    since: float


class MoveOut(BaseModel):
    camera: str
    from_node: str | None = Field(description="null: the camera was not running.")
    to_node: str | None = Field(description="null: no node can run it now (see why).")
    at: float
    why: str


class ClusterOut(BaseModel):
    nodes: list[NodeOut]
    assignments: dict[str, AssignmentOut] = Field(description="Camera -> its lease.")
    moves: list[MoveOut] = Field(description="Recent moves, newest first.")
