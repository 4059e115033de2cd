"""Prometheus metrics at /metrics: names, labels, values, and counters that only grow across
worker restarts."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accounts import bearer, fast_auth, user_token
from vigil.api.app import create_app
from vigil.api.metrics import COUNTERS, GAUGES, MonotonicTotal, create_registry, render
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.service.messages import CameraStatus, EventMessage

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

CAMERAS = ("cam1", "cam2")


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ServiceState]:
    with Database(":memory:") as database:
        store = EventStore(database)
        yield ServiceState(
            [CameraInfo.create(c, f"rtsp://{c}/1") for c in CAMERAS], store, storage=tmp_path
        )


def metrics_client(state: ServiceState) -> TestClient:
    """A client of the app that scrapes as Prometheus does: an operator's API token."""
    app = create_app(state, fast_auth(state.events))
    return TestClient(app, headers=bearer(user_token(app.state.auth, "prometheus", "operator")))


@pytest.fixture
def client(state: ServiceState) -> Iterator[TestClient]:
    with metrics_client(state) as c:
        yield c


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}; checks the content type."""
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def status(camera: str = "cam1", state: str = "online", **kw) -> CameraStatus:
    return CameraStatus(camera, state, time.time(), **kw)  # type: ignore[arg-type]


def test_names_and_camera_labels(client: TestClient, state: ServiceState) -> None:
    samples = scrape(client)
    for camera in CAMERAS:
        for name, _, _ in COUNTERS:
            assert value(samples, f"{name}_total", camera=camera) == 0.0
        assert value(samples, "vigil_camera_up", camera=camera) == 0.0
        assert value(samples, "vigil_recording_disk_bytes", camera=camera) == 0.0
    expected = {
        "vigil_frames_input_total",
        "vigil_frames_processed_total",
        "vigil_frames_dropped_total",
        "vigil_reconnects_total",
        "vigil_camera_up",
        "vigil_recording_disk_bytes",
    }
    assert expected <= {name for name, _ in samples}
    assert {name for name, _ in GAUGES} >= {
        "vigil_detector_latency_seconds",
        "vigil_detector_queue_depth",
        "vigil_recording_lag_seconds",
        "vigil_recording_disk_bytes",
        "vigil_camera_up",
    }
    text = client.get("/metrics").text
    assert "# TYPE vigil_frames_processed_total counter" in text
    assert "# TYPE vigil_detector_latency_seconds gauge" in text
    assert "# TYPE vigil_events_total counter" in text
    assert "process_resident_memory_bytes" in text or "process_cpu_seconds_total" in text


def test_status_values(client: TestClient, state: ServiceState) -> None:
    state.apply(
        status(
            frames_in=150,
            frames_processed=50,
            frames_dropped=3,
            reconnects=2,
            detector_latency_ms=25.0,
            queue_depth=4,
            recording_lag_s=7.5,
        )
    )
    state.apply(status("cam2", "reconnecting"))
    samples = scrape(client)
    assert value(samples, "vigil_frames_input_total", camera="cam1") == 150
    assert value(samples, "vigil_frames_processed_total", camera="cam1") == 50
    assert value(samples, "vigil_frames_dropped_total", camera="cam1") == 3
    assert value(samples, "vigil_reconnects_total", camera="cam1") == 2
    assert value(samples, "vigil_detector_latency_seconds", camera="cam1") == 0.025
    assert value(samples, "vigil_detector_queue_depth", camera="cam1") == 4
    assert value(samples, "vigil_recording_lag_seconds", camera="cam1") == 7.5
    assert value(samples, "vigil_camera_up", camera="cam1") == 1
    assert value(samples, "vigil_camera_up", camera="cam2") == 0


def test_counters_only_increase_across_worker_restart(
    client: TestClient, state: ServiceState
) -> None:
    seen: list[float] = []

    def report(frames_in: int, reconnects: int = 0) -> None:
        state.apply(status(frames_in=frames_in, frames_processed=frames_in // 3,
                           reconnects=reconnects))  # fmt: skip
        samples = scrape(client)
        seen.append(value(samples, "vigil_frames_input_total", camera="cam1"))

    report(100)
    report(250, reconnects=1)
    report(0)  # the worker crashed and its replacement starts counting from 0
    report(40)
    report(40)  # no new frames
    report(90, reconnects=1)
    assert seen == [100, 250, 250, 290, 290, 340]
    assert all(b >= a for a, b in zip(seen, seen[1:]))
    samples = scrape(client)
    assert value(samples, "vigil_frames_processed_total", camera="cam1") == 83 + 30
    assert value(samples, "vigil_reconnects_total", camera="cam1") == 2
    assert value(samples, "vigil_frames_input_total", camera="cam2") == 0


def test_monotonic_total() -> None:
    total = MonotonicTotal()
    assert [total.update(v) for v in (5, 5, 9, 2, 3, 0, 0, 7)] == [5, 0, 4, 2, 1, 0, 0, 7]
    assert total.total == 19


def test_events_total_counts_each_event_once(client: TestClient, state: ServiceState) -> None:
    def message(camera: str, app: str, type_: str, event_state: str = "instant", id_=None):
        kw = {} if id_ is None else {"id": id_}
        ev = Event(camera, app, type_, 1.0, 1, state=event_state, **kw)  # type: ignore[arg-type]
        return EventMessage(ev, time.time())

    state.apply(message("cam1", "door", "line_crossing"))
    state.apply(message("cam1", "door", "line_crossing"))
    state.apply(message("cam1", "yard", "loitering", "start", "L1"))
    state.apply(message("cam1", "yard", "loitering", "update", "L1"))
    state.apply(message("cam1", "yard", "loitering", "end", "L1"))
    state.apply(message("cam2", "door", "line_crossing"))
    state.apply(message("ghost", "door", "line_crossing"))  # not a configured camera
    samples = scrape(client)
    assert (
        value(samples, "vigil_events_total", camera="cam1", app="door", type="line_crossing") == 2
    )
    assert value(samples, "vigil_events_total", camera="cam1", app="yard", type="loitering") == 1
    assert (
        value(samples, "vigil_events_total", camera="cam2", app="door", type="line_crossing") == 1
    )
    assert not [k for k in samples if dict(k[1]).get("camera") == "ghost"]


def test_camera_up_goes_down_when_worker_is_silent(tmp_path: Path) -> None:
    now = [1000.0]
    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState(
            [CameraInfo.create("cam1", "x")], store, storage=tmp_path, clock=lambda: now[0]
        )
        client = metrics_client(state)
        state.apply(CameraStatus("cam1", "online", 1000.0))
        assert value(scrape(client), "vigil_camera_up", camera="cam1") == 1
        now[0] += 60
        assert value(scrape(client), "vigil_camera_up", camera="cam1") == 0


def test_recording_disk_bytes(tmp_path: Path) -> None:
    with Database(":memory:") as database:
        store = EventStore(database)
        # without an index: the files under recordings/<camera>
        state = ServiceState([CameraInfo.create("cam1", "x")], store, storage=tmp_path)
        day = state.recordings_dir / "cam1" / "2024-01-01"
        day.mkdir(parents=True)
        (day / "00-00-00.000.mp4").write_bytes(b"x" * 1000)
        (day / "00-00-10.000.mp4").write_bytes(b"x" * 500)
        (state.recordings_dir / "other").mkdir()
        (state.recordings_dir / "other" / "a.mp4").write_bytes(b"x" * 99)
        client = metrics_client(state)
        assert value(scrape(client), "vigil_recording_disk_bytes", camera="cam1") == 1500

        # with an index: its total
        class Index:
            def between(self, *a):
                return []

            def gaps(self, *a, **k):
                return []

            def total_bytes(self, camera=None):
                return 123456

        indexed = ServiceState([CameraInfo.create("cam1", "x")], store, index=Index())
        client = metrics_client(indexed)
        assert value(scrape(client), "vigil_recording_disk_bytes", camera="cam1") == 123456


def test_dedicated_registry(state: ServiceState) -> None:
    """Nothing lands in prometheus-client's global registry; two apps in one process coexist."""
    create_app(state)
    create_app(state)
    assert REGISTRY.get_sample_value("vigil_frames_input_total", {"camera": "cam1"}) is None
    registry = create_registry(state, process=False)
    state.apply(status(frames_in=7))
    assert registry.get_sample_value("vigil_frames_input_total", {"camera": "cam1"}) == 7
    assert b"vigil_camera_up" in render(registry)


def test_a_camera_restricted_user_scrapes_only_their_cameras(state: ServiceState) -> None:
    app = create_app(state, fast_auth(state.events))
    token = user_token(app.state.auth, "cam1-watcher", "operator", ["cam1"])
    for camera in CAMERAS:
        state.apply(status(camera, frames_in=5))
        state.apply(EventMessage(Event(camera, "door", "line_crossing", 1.0, 1), time.time()))
    with TestClient(app, headers=bearer(token)) as restricted:
        samples = scrape(restricted)
    cameras = {dict(labels).get("camera") for _, labels in samples} - {None}
    assert cameras == {"cam1"}
    assert value(samples, "vigil_frames_input_total", camera="cam1") == 5
    assert value(samples, "vigil_events_total", camera="cam1", app="door", type="line_crossing")
    assert "process_resident_memory_bytes" in {name for name, _ in samples}
    with metrics_client(state) as everyone:  # an unrestricted operator sees every camera
        assert {dict(labels).get("camera") for _, labels in scrape(everyone)} >= set(CAMERAS)
