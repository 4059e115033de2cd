"""What camera worker processes tell the supervisor (each over a pipe of its own), and what
the supervisor tells a worker over the worker's control pipe (`Reconfigure`, `LiveDemand`).

Everything here is small and picklable: frames never travel this way (they go through
shared memory to the detector service). The supervisor is the single writer of the
database and the single publisher to the API, WebSocket, MQTT and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vigil.events.event import Event
from vigil.forensics.summary import TrackSummary
from vigil.recording.segments import SegmentInfo

if TYPE_CHECKING:
    from vigil.config.site import CameraConfig

# "stalled": the stream is connected but no picture has come for `STALLED_AFTER_S` (before
# the source's read timeout makes it reconnect).
CameraState = Literal["starting", "online", "stalled", "reconnecting", "offline", "stopped"]
STALLED_AFTER_S = 3.0
# "failing": the app raised and is skipped for a backoff (`vigil.apps.boundary`); it runs
# again when the backoff ends and is "running" once a call succeeds.
AppState = Literal["starting", "running", "failing", "restarting", "failed", "stopped"]


@dataclass(slots=True)
class AppStatus:
    """One app instance of a camera: built-ins run in the worker ("running"); a sandboxed
    third-party app reports its child's state. A disabled app is "stopped"; before the
    camera's first frame builds the apps, "starting"."""

    type: str
    name: str
    enabled: bool
    state: AppState
    last_error: str | None = None
    restarts: int = 0
    counters: dict[str, float] = field(default_factory=dict)
    # A store app: the version its sandbox runs, and whether bubblewrap isolates it (False:
    # resource limits only; None: not started yet). None for built-ins.
    version: str | None = None
    sandboxed: bool | None = None
    # The boundary's counts (`vigil.apps.boundary.GuardedApp`): calls that raised, and events
    # and counter names it refused; seconds left of the backoff of a failing app.
    errors: int = 0
    rejected: int = 0
    backoff_s: float = 0.0
    # A store app: False when its memory limit is not a memory cgroup (unavailable here: the
    # address-space limit only); None for built-ins or before it starts.
    memory_cgroup: bool | None = None


@dataclass(slots=True)
class CameraStatus:
    """A camera worker's health, sent about once a second and on every state change.

    Counters are cumulative since the worker started (the supervisor turns them into
    Prometheus counters); rates and latencies are over the last reporting interval.
    """

    camera: str
    state: CameraState
    wall_time: float
    frames_in: int = 0  # frames decoded from the stream
    frames_processed: int = 0  # frames that went through detection and tracking
    frames_dropped: int = 0  # frames due for detection that were skipped to keep up
    reconnects: int = 0
    fps_in: float = 0.0
    fps_processed: float = 0.0
    detector_latency_ms: float = (
        0.0  # one analysis step (motion, detection, tracking, apps), median
    )
    queue_depth: int = 0  # detector requests waiting for this camera
    recording_lag_s: float = 0.0  # wall time minus the end of the last finished segment
    # "on", "off" (record mode off) or "unsupported: CODEC": the stream's codec cannot go
    # into a browser-playable MP4 without re-encoding (an MJPEG camera), so it is analysed
    # but not recorded.
    recording: str = "off"
    decoder: str = "software"  # "cuda", "vaapi", "software" or "software (why not the device)"
    counters: dict[str, dict[str, float]] = field(default_factory=dict)  # app -> counters
    error: str | None = None  # last ingest error, one line
    apps: list[AppStatus] = field(default_factory=list)  # every configured app instance
    # When the camera came up, or went down (the first of its down states: a camera that
    # stalls, then reconnects, has been down since its pictures stopped). None: not known
    # (a status made outside a running worker); the service fills it in.
    since: float | None = None
    last_frame_at: float | None = None  # when the worker last received a picture
    pid: int | None = None  # the worker's process, on its own machine (the System page)

    def enter(self, state: CameraState, now: float, last_frame_at: float | None) -> None:
        """Take on the source's `state` as of `now` ("stalled" where it is online but its
        last picture came `STALLED_AFTER_S` ago or more); coming up or going down starts
        `since` again: down since the last picture, where there was one."""
        if state == "online" and last_frame_at is not None:
            state = "stalled" if now - last_frame_at >= STALLED_AFTER_S else state
        if (state == "online") != (self.state == "online"):
            self.since = now if state == "online" or last_frame_at is None else last_frame_at
        self.state = state
        self.last_frame_at = last_frame_at

    def reason(self, now: float) -> str | None:
        """Why the camera is not online, in one line ("no frames for 12 s · rtsp://cam:
        connection refused"); an online camera's analysis error, if any."""
        if self.state == "online":
            return self.error
        silent = None if self.last_frame_at is None else max(0.0, now - self.last_frame_at)
        parts = [f"no frames for {silent:.0f} s" if silent is not None else None, self.error]
        return " · ".join(p for p in parts if p) or None


@dataclass(slots=True)
class TrackedObject:
    track_id: int
    class_id: int
    class_name: str
    confidence: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels


@dataclass(slots=True)
class FrameMetadata:
    """The tracked objects of one processed frame (for the WebSocket and the live view)."""

    camera: str
    frame_index: int
    pts: float
    wall_time: float
    width: int
    height: int
    objects: list[TrackedObject]


@dataclass(slots=True)
class EventMessage:
    """An app event; `snapshot` is a JPEG written by the worker at the event's first frame."""

    event: Event
    wall_time: float  # capture time of the frame that raised it
    snapshot: str | None = None


@dataclass(slots=True)
class TrackSummaries:
    """Tracks of a camera that ended, summarised for forensic search."""

    camera: str
    tracks: list[TrackSummary]


@dataclass(slots=True)
class LiveFrame:
    """An annotated JPEG of the camera's latest processed frame (a few per second).

    `jpeg` is masked as the camera's privacy policy says for a role it masks (tracked
    objects, static polygons); `unmasked` is the same frame with the static polygons only,
    made while someone entitled to it watches (`LiveDemand.unmasked`) and None otherwise, or
    when the policy masks no object (then `jpeg` is it). Serve with `for_view`."""

    camera: str
    wall_time: float
    jpeg: bytes
    unmasked: bytes | None = None

    def for_view(self, mask_objects: bool) -> bytes:
        """The JPEG for a principal whose view masks tracked objects or not
        (`vigil.api.privacy.PrivacyView.mask_objects`): masked unless an unmasked one exists."""
        return self.jpeg if mask_objects or self.unmasked is None else self.unmasked


@dataclass(slots=True)
class RawFrame:
    """The camera's picture without overlays (every few seconds), for drawing zones on;
    masked like the live view for a role the privacy policy masks."""

    camera: str
    wall_time: float
    width: int
    height: int
    jpeg: bytes


@dataclass(slots=True)
class Reconfigure:
    """Supervisor to worker, on the worker's control pipe: from the next frame on, run this
    camera's new scene (zones, lines, apps). Only scene fields differ from the running
    config: any other change restarts the worker instead."""

    camera: CameraConfig
    generation: int  # counts the supervisor's reconfigurations; echoed in `Reconfigured`
    # App types whose installed version changed (`vigil apps upgrade`): their instances are
    # built again even though their configuration is the same.
    rebuild: frozenset[str] = frozenset()


@dataclass(slots=True)
class Reconfigured:
    """Worker to supervisor: a `Reconfigure` was applied (error None) or refused (the
    worker keeps the scene it had; `error` is one line)."""

    camera: str
    generation: int
    wall_time: float
    error: str | None = None


@dataclass(slots=True)
class AppStates:
    """Worker to supervisor: what to restore of the camera's restorable apps (instance name
    -> `vigil.apps.boundary.GuardedApp.saved_state`), sent when it changed, at most every
    few seconds, and when the worker stops. The supervisor stores it; the camera's next
    worker (after a restart, or on another node) starts its apps from it."""

    camera: str
    wall_time: float
    states: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class LiveDemand:
    """Supervisor to worker, on the worker's control pipe: whether someone watches the
    camera's live view. A worker starts unwatched and draws and JPEG-encodes `LiveFrame`s
    only while it is watched (`RawFrame`s and event snapshots go on regardless)."""

    camera_id: str
    wanted: bool
    unmasked: bool = False
    """Someone entitled to footage without object masks watches: an unmasked JPEG is made
    too (a camera whose policy masks objects)."""


ControlMessage = Reconfigure | LiveDemand

WorkerMessage = (
    CameraStatus
    | FrameMetadata
    | EventMessage
    | TrackSummaries
    | SegmentInfo
    | LiveFrame
    | RawFrame
    | Reconfigured
    | AppStates
)


def event_to_dict(message: EventMessage) -> dict[str, Any]:
    """The JSON shape of an event on the API, the WebSocket and MQTT."""
    e = message.event
    return {
        "id": e.id,
        "camera": e.source,
        "app": e.app,
        "type": e.type,
        "state": e.state,
        "start_time": e.start_time,
        "end_time": e.end_time,
        "wall_time": message.wall_time,
        "track_id": e.track_id,
        "class_name": e.class_name,
        "zone": e.zone,
        "line": e.line,
        "attributes": e.attributes,
        "snapshot": message.snapshot is not None,
    }
