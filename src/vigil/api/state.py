"""`ServiceState`: the API's read model of the site, fed by the supervisor process.

The supervisor builds one `ServiceState` (usually with `ServiceState.from_site`) and calls
`apply` for every message a camera worker sends; `apply` keeps the latest `CameraStatus`
and `LiveFrame` of each camera and the totals behind the Prometheus counters. Events and
segments go to the database and the segment index through the supervisor, not through here.
What the API asks of the supervisor (apply an edited site file) goes through the
`SiteControl` protocol of `vigil.api.deps`, never through this state.

Everything here is safe to read from the API's event loop and threads while the supervisor
thread calls `apply`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vigil.api.metrics import ServiceMetrics
from vigil.events.event import Event
from vigil.service.hub import Hub
from vigil.service.messages import (
    CameraStatus,
    EventMessage,
    LiveFrame,
    RawFrame,
    Reconfigured,
    WorkerMessage,
)
from vigil.sources.urls import redact_url

if TYPE_CHECKING:
    from vigil.config.site import CameraConfig, SiteConfig
    from vigil.events.store import EventStore

__all__ = ["CameraInfo", "SegmentIndexLike", "ServiceState", "safe_name"]

#: What may appear in a file name made from an id (camera ids and event ids are slugs).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,199}$")
_SNAPSHOT_MEMORY = 10_000  # snapshot paths remembered from event messages
LATENCY_EVERY_S = 10.0
LATENCY_POINTS = 6 * 60 * 6  # six hours
_DISK_USAGE_TTL_S = 60.0


def safe_name(text: str) -> bool:
    """True when `text` can be used as one file-name component (no separators, no dot-dot)."""
    return bool(_SAFE_NAME.match(text)) and text not in (".", "..")


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """A configured camera as the API shows it; `url` never carries credentials."""

    id: str
    name: str
    url: str
    enabled: bool = True
    pre_roll: float = 5.0  # seconds of recording before an event in its clip
    post_roll: float = 5.0  # seconds after it

    @classmethod
    def from_camera(cls, camera: CameraConfig) -> CameraInfo:
        """The info of a site's `CameraConfig`."""
        return cls.create(
            camera.id,
            camera.url,
            getattr(camera, "name", None),
            enabled=camera.enabled,
            pre_roll=camera.record.pre_roll,
            post_roll=camera.record.post_roll,
        )

    @classmethod
    def create(
        cls,
        id: str,  # noqa: A002 - the camera's id
        url: str,
        name: str | None = None,
        *,
        enabled: bool = True,
        pre_roll: float = 5.0,
        post_roll: float = 5.0,
    ) -> CameraInfo:
        """A `CameraInfo` with the credentials stripped from `url`."""
        return cls(id, name or id, redact_url(url), enabled, float(pre_roll), float(post_roll))


class SegmentIndexLike(Protocol):
    """What the API needs from `vigil.recording`'s segment index."""

    def between(self, camera: str, start: float, end: float) -> Sequence[Any]: ...

    def get(self, segment_id: int) -> Any | None: ...

    def activity(self, camera: str, start: float, end: float, bucket_s: float) -> Sequence[Any]: ...

    def gaps(
        self, camera: str, start: float, end: float, *, min_gap: float = ..., edges: bool = ...
    ) -> Sequence[tuple[float, float]]: ...

    def total_bytes(self, camera: str | None = None) -> int: ...


class ServiceState:
    """The supervisor's live view of the site, shared with the API and the metrics.

    `cameras`: the configured cameras (in config order). `events`: the event database.
    `hub`: the fan-out of worker messages (the WebSocket subscribes to it). `index`: the
    recording segment index (None when recording is not available). `storage`: the data
    directory; `snapshots_dir`, `recordings_dir` and `exports_dir` default to folders in it.
    `stale_after_s`: a camera whose last status is older than this is reported down.
    """

    def __init__(
        self,
        cameras: Iterable[CameraInfo],
        events: EventStore,
        *,
        hub: Hub | None = None,
        index: SegmentIndexLike | None = None,
        storage: str | os.PathLike[str] = "vigil-data",
        snapshots_dir: str | os.PathLike[str] | None = None,
        recordings_dir: str | os.PathLike[str] | None = None,
        exports_dir: str | os.PathLike[str] | None = None,
        stale_after_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cameras: dict[str, CameraInfo] = {}
        for camera in cameras:
            if camera.id in self.cameras:
                raise ValueError(f"duplicate camera id {camera.id!r}")
            self.cameras[camera.id] = camera
        self.events = events
        self.hub = hub if hub is not None else Hub()
        self.index = index
        root = Path(storage)
        self.storage = root
        self.snapshots_dir = Path(snapshots_dir) if snapshots_dir else root / "snapshots"
        self.recordings_dir = Path(recordings_dir) if recordings_dir else root / "recordings"
        self.exports_dir = Path(exports_dir) if exports_dir else root / "exports"
        self.stale_after_s = float(stale_after_s)
        self.clock = clock
        self.metrics = ServiceMetrics(self.cameras)
        self.started_at = clock()
        self._lock = threading.Lock()
        self._statuses: dict[str, CameraStatus] = {}
        # Per camera, (time, analysis latency ms) every `LATENCY_EVERY_S`: the System page's
        # latency over the last hours.
        self._latencies: dict[str, deque[tuple[float, float]]] = {}
        self._live: dict[str, LiveFrame] = {}
        self._raw: dict[str, RawFrame] = {}
        self._reconfigured: dict[str, Reconfigured] = {}
        #: The site being run, as last applied (None when the state was built without one).
        self.site: SiteConfig | None = None
        #: The site YAML the config API edits (None: a site built in code, nothing to save to).
        self.site_file: Path | None = None
        self._snapshots: OrderedDict[str, Path] = OrderedDict()
        self._disk_usage: tuple[float, dict[str, int]] | None = None
        #: Set by `close`: live streams and WebSockets end (they would otherwise keep a
        #: graceful server shutdown waiting forever).
        self.closing = threading.Event()

    @classmethod
    def from_site(
        cls,
        site: SiteConfig,
        events: EventStore,
        *,
        hub: Hub | None = None,
        index: SegmentIndexLike | None = None,
        **kwargs: Any,
    ) -> ServiceState:
        """The state for a `vigil serve` site configuration (storage from `site.storage`)."""
        cameras = [CameraInfo.from_camera(c) for c in site.cameras]
        kwargs.setdefault("storage", site.storage.directory)
        state = cls(cameras, events, hub=hub, index=index, **kwargs)
        state.site = site
        state.site_file = Path(site.file) if site.file is not None else None
        return state

    def set_site(self, site: SiteConfig) -> None:
        """The supervisor applied a changed site: cameras added, removed or changed."""
        self.cameras = {c.id: CameraInfo.from_camera(c) for c in site.cameras}
        self.site = site

    # ------------------------------------------------------------------ supervisor side

    def apply(self, message: WorkerMessage) -> None:
        """Take in one worker message (the supervisor calls this for every message).

        Messages from cameras that are not configured are ignored.
        """
        if isinstance(message, CameraStatus):
            if message.camera in self.cameras:
                self._statuses[message.camera] = _since(self._statuses.get(message.camera), message)
                self.metrics.observe_status(message)
                self._keep_latency(message)
        elif isinstance(message, LiveFrame):
            if message.camera in self.cameras:
                self._live[message.camera] = message
        elif isinstance(message, RawFrame):
            if message.camera in self.cameras:
                self._raw[message.camera] = message
        elif isinstance(message, Reconfigured):
            self._reconfigured[message.camera] = message
        elif isinstance(message, EventMessage) and message.event.source in self.cameras:
            self.metrics.observe_event(message.event)
            if message.snapshot is not None:
                with self._lock:
                    self._snapshots[message.event.id] = Path(message.snapshot)
                    while len(self._snapshots) > _SNAPSHOT_MEMORY:
                        self._snapshots.popitem(last=False)

    def close(self) -> None:
        """End the API's endless responses (MJPEG streams, WebSockets) within a fraction of
        a second. Call it before asking the server to stop: uvicorn's graceful shutdown
        waits for every open response to finish."""
        self.closing.set()

    # ------------------------------------------------------------------ API side

    def camera(self, camera_id: str) -> CameraInfo | None:
        return self.cameras.get(camera_id)

    def status(self, camera_id: str) -> CameraStatus | None:
        """The camera's latest status, or None before its worker reported."""
        return self._statuses.get(camera_id)

    def live_frame(self, camera_id: str) -> LiveFrame | None:
        """The camera's latest annotated JPEG, or None before the first one."""
        return self._live.get(camera_id)

    def raw_frame(self, camera_id: str) -> RawFrame | None:
        """The camera's latest picture without overlays, or None before the first one."""
        return self._raw.get(camera_id)

    def reconfigured(self, camera_id: str) -> Reconfigured | None:
        """The worker's answer to the latest scene change it was sent, if any."""
        return self._reconfigured.get(camera_id)

    def status_age(self, camera_id: str) -> float | None:
        status = self._statuses.get(camera_id)
        return None if status is None else max(0.0, self.clock() - status.wall_time)

    def _keep_latency(self, status: CameraStatus) -> None:
        if status.state != "online" or status.detector_latency_ms <= 0:
            return
        history = self._latencies.setdefault(status.camera, deque(maxlen=LATENCY_POINTS))
        if not history or status.wall_time - history[-1][0] >= LATENCY_EVERY_S:
            history.append((status.wall_time, status.detector_latency_ms))

    def latency_history(self, camera_id: str) -> list[tuple[float, float]]:
        """(time, analysis latency in ms) of the camera, oldest first, every
        `LATENCY_EVERY_S` while it analysed, over the last `LATENCY_POINTS` of them."""
        return list(self._latencies.get(camera_id, ()))

    def worker_pids(self) -> dict[int, str]:
        """The camera workers' process ids, as their latest statuses name them -> camera."""
        return {s.pid: c for c, s in self._statuses.items() if s.pid is not None}

    def reason(self, camera_id: str) -> str | None:
        """Why the camera is down, in one line (`CameraStatus.reason`); None when up or
        before its worker reported."""
        status = self._statuses.get(camera_id)
        if status is None:
            return None
        age = self.clock() - status.wall_time
        if status.state == "online" and age > self.stale_after_s:
            return f"its worker has not reported for {age:.0f} s"
        return status.reason(self.clock())

    def is_up(self, camera_id: str) -> bool:
        """Online, and the worker reported within `stale_after_s` (a hung worker is down)."""
        status = self._statuses.get(camera_id)
        if status is None or status.state != "online":
            return False
        return self.clock() - status.wall_time <= self.stale_after_s

    def snapshot_path(self, event: Event) -> Path | None:
        """The event's JPEG snapshot on this machine's disk, or None when it has none there.

        Workers write ``<snapshots_dir>/<camera>/<event id>.jpg``, on a cluster node under
        that node's folder (`node_snapshot_path`: the head's own node is this machine); the
        path an event message named is used first, so a layout change in the worker still
        works while running.
        """
        with self._lock:
            remembered = self._snapshots.get(event.id)
        candidates: list[Path] = [] if remembered is None else [remembered]
        if event.node is not None:
            on_node = self.node_snapshot_path(event.node, event)
            candidates += [] if on_node is None else [on_node]
        elif safe_name(event.id):
            if safe_name(event.source):
                candidates.append(self.snapshots_dir / event.source / f"{event.id}.jpg")
            candidates.append(self.snapshots_dir / f"{event.id}.jpg")
        for path in candidates:
            if path.is_file():
                return path
        return None

    def node_snapshot_path(self, node: str, event: Event) -> Path | None:
        """Where a cluster node wrote the event's snapshot, as that node sees it (each node
        keeps its files under ``<storage>/nodes/<node>/``); None for names unfit for a path."""
        if not (safe_name(node) and safe_name(event.source) and safe_name(event.id)):
            return None
        return self.storage / "nodes" / node / "snapshots" / event.source / f"{event.id}.jpg"

    def recording_disk_bytes(self) -> dict[str, int]:
        """Bytes of recordings per configured camera, cached for a minute.

        From the segment index (a SUM in the database) when there is one; otherwise a walk
        of ``<recordings_dir>/<camera>``, which at tens of thousands of segments per camera
        is too slow to repeat at every scrape.
        """
        now = time.monotonic()
        cached = self._disk_usage
        if cached is not None and now - cached[0] < _DISK_USAGE_TTL_S:
            return cached[1]
        index = self.index
        if index is not None and hasattr(index, "total_bytes"):
            usage = {cid: int(index.total_bytes(cid)) for cid in self.cameras}
        else:
            usage = {
                cid: _tree_size(self.recordings_dir / cid) if safe_name(cid) else 0
                for cid in self.cameras
            }
        self._disk_usage = (now, usage)
        return usage


def _tree_size(root: Path) -> int:
    total = 0
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue  # removed by retention while we walked
        except OSError:
            continue
    return total


def _since(previous: CameraStatus | None, status: CameraStatus) -> CameraStatus:
    """`status` with since when the camera is up or down as the service knows it: a camera
    that stays down across its workers (one that fails at start is restarted again and
    again; a cluster node that died reports for its workers) has been down since the first
    of them said so, and the latest picture any of them received is kept."""
    since = status.since if status.since is not None else status.wall_time
    last_frame = status.last_frame_at
    if previous is not None and "online" not in (previous.state, status.state):
        since = min(since, previous.since or since)
        last_frame = last_frame if last_frame is not None else previous.last_frame_at
    return replace(status, since=since, last_frame_at=last_frame)
