"""Prometheus metrics of `vigil serve`, served at ``/metrics``.

Names follow the Prometheus conventions: a ``vigil_`` prefix, base units (seconds, bytes),
counters ending in ``_total``, and a ``camera`` label on every per-camera series.

Design: one custom collector (`VigilCollector`) renders everything from the service state
at scrape time, into a dedicated `CollectorRegistry` (never the process-global one, so two
apps in one process — the tests — do not collide):

* Gauges (camera up, detector latency, queue depth, recording lag, disk usage) are whatever
  the latest `CameraStatus` says *now*; reading them at scrape time means there is no copy
  to keep in sync and a camera's series exist from the start (``vigil_camera_up 0``).
* Counters need memory that a scrape cannot have: workers report cumulative counts since
  *they* started, and a restarted worker starts again from 0. `ServiceMetrics` folds each
  status into a monotonic total (`MonotonicTotal`: add the delta since the previous status,
  or the whole new count after a reset), so ``vigil_frames_processed_total`` never goes
  down across worker restarts, as Prometheus' ``rate()`` expects.

The registry also carries prometheus-client's process collector (``process_*``: resident
memory, CPU, open files of the supervisor).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from vigil.events.event import Event
from vigil.service.messages import CameraStatus

__all__ = [
    "COUNTERS",
    "GAUGES",
    "MonotonicTotal",
    "ServiceMetrics",
    "MetricsSource",
    "VigilCollector",
    "create_registry",
    "render",
]

#: Per-camera counters: metric name (without ``_total``), `CameraStatus` field, help.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("vigil_frames_input", "frames_in", "Frames decoded from the camera stream."),
    (
        "vigil_frames_processed",
        "frames_processed",
        "Frames that went through detection, tracking and the apps.",
    ),
    (
        "vigil_frames_dropped",
        "frames_dropped",
        "Frames due for detection that were skipped because analysis was behind.",
    ),
    ("vigil_reconnects", "reconnects", "Times the camera stream was lost and reopened."),
)

#: Per-camera gauges: metric name, help.
GAUGES: tuple[tuple[str, str], ...] = (
    ("vigil_camera_up", "1 when the camera is online and its worker reported recently, else 0."),
    (
        "vigil_detector_latency_seconds",
        "One analysis step of a frame (motion, detection request to result, tracking, apps), median over the last status interval.",
    ),
    ("vigil_detector_queue_depth", "Detector requests of this camera waiting to be served."),
    (
        "vigil_recording_lag_seconds",
        "Wall time minus the end of the camera's last finished recording segment.",
    ),
    ("vigil_recording_disk_bytes", "Bytes of recordings stored for the camera."),
)


@dataclass
class MonotonicTotal:
    """A counter total fed with a cumulative count that resets to 0 when its worker restarts.

    Each update adds the increase since the previous value; a value lower than the previous
    one means a new worker counting from 0, so all of it is new. (A restarted worker that
    already counted past the old value before its first report is indistinguishable from
    one that did not restart; its first counts are then lost, never double counted.)
    """

    total: float = 0.0
    last: float = 0.0

    def update(self, cumulative: float) -> float:
        """Fold in the latest cumulative count; returns the increase added to `total`."""
        cumulative = max(0.0, float(cumulative))
        delta = cumulative - self.last if cumulative >= self.last else cumulative
        self.last = cumulative
        self.total += delta
        return delta


@dataclass
class _CameraTotals:
    counters: dict[str, MonotonicTotal] = field(
        default_factory=lambda: {attr: MonotonicTotal() for _, attr, _ in COUNTERS}
    )


class ServiceMetrics:
    """The totals behind the counters, fed by `ServiceState.apply` (thread-safe)."""

    def __init__(self, cameras: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._cameras: dict[str, _CameraTotals] = {c: _CameraTotals() for c in cameras}
        self._events: dict[tuple[str, str, str], int] = {}

    def observe_status(self, status: CameraStatus) -> None:
        with self._lock:
            totals = self._cameras.setdefault(status.camera, _CameraTotals())
            for _, attr, _ in COUNTERS:
                totals.counters[attr].update(getattr(status, attr))

    def observe_event(self, event: Event) -> None:
        """Count an event once: at its `instant` or `start` record, not its updates or end."""
        if event.state not in ("instant", "start"):
            return
        key = (event.source, event.app, event.type)
        with self._lock:
            self._events[key] = self._events.get(key, 0) + 1

    def counter_totals(self) -> dict[str, dict[str, float]]:
        """camera -> `CameraStatus` counter field -> total across worker restarts."""
        with self._lock:
            return {
                camera: {attr: t.total for attr, t in totals.counters.items()}
                for camera, totals in self._cameras.items()
            }

    def event_totals(self) -> dict[tuple[str, str, str], int]:
        """(camera, app, type) -> events counted."""
        with self._lock:
            return dict(self._events)


class MetricsSource(Protocol):
    """What the collector reads at scrape time (`vigil.api.state.ServiceState` is one)."""

    @property
    def cameras(self) -> Mapping[str, object]: ...

    @property
    def metrics(self) -> ServiceMetrics: ...

    def status(self, camera_id: str) -> CameraStatus | None: ...

    def is_up(self, camera_id: str) -> bool: ...

    def recording_disk_bytes(self) -> dict[str, int]: ...


class VigilCollector(Collector):
    """Renders the service's metrics from a `MetricsSource` at scrape time: of every
    camera, or of `cameras` only (what a camera-restricted user may see)."""

    def __init__(self, state: MetricsSource, cameras: frozenset[str] | None = None) -> None:
        self.state = state
        self.cameras = cameras

    def _shown(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras

    def describe(self) -> Iterable[Metric]:
        return list(self._families().values())

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        state = self.state
        cameras = [c for c in state.cameras if self._shown(c)]
        totals = state.metrics.counter_totals()
        disk = state.recording_disk_bytes()
        for camera in cameras:
            camera_totals = totals.get(camera, {})
            for name, attr, _ in COUNTERS:
                families[name].add_metric([camera], camera_totals.get(attr, 0.0))
            status = state.status(camera)
            families["vigil_camera_up"].add_metric([camera], 1.0 if state.is_up(camera) else 0.0)
            families["vigil_recording_disk_bytes"].add_metric([camera], float(disk.get(camera, 0)))
            if status is not None:
                families["vigil_detector_latency_seconds"].add_metric(
                    [camera], status.detector_latency_ms / 1000.0
                )
                families["vigil_detector_queue_depth"].add_metric([camera], status.queue_depth)
                families["vigil_recording_lag_seconds"].add_metric([camera], status.recording_lag_s)
        for (camera, app, type_), n in sorted(state.metrics.event_totals().items()):
            if not self._shown(camera):
                continue
            families["vigil_events"].add_metric([camera, app, type_], float(n))
        return list(families.values())

    @staticmethod
    def _families() -> dict[str, CounterMetricFamily | GaugeMetricFamily]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for name, _, help_text in COUNTERS:
            families[name] = CounterMetricFamily(name, help_text, labels=["camera"])
        families["vigil_events"] = CounterMetricFamily(
            "vigil_events",
            "Events raised by the apps (long-lived events count once, at their start).",
            labels=["camera", "app", "type"],
        )
        for name, help_text in GAUGES:
            families[name] = GaugeMetricFamily(name, help_text, labels=["camera"])
        return families


def create_registry(
    state: MetricsSource, *, process: bool = True, cameras: frozenset[str] | None = None
) -> CollectorRegistry:
    """A registry of its own holding the service's collector (of `cameras` only, unless
    None) and the process collector."""
    registry = CollectorRegistry()
    registry.register(VigilCollector(state, cameras))
    if process:
        ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(registry)
