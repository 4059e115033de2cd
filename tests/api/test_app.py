"""The HTTP API of `vigil serve`: every route, filters and pagination, 404/422, file
responses, the WebSocket, MJPEG, and the OpenAPI schema; plus `ServiceState` itself.

Recording routes run against `FakeIndex` / `FakeRecording`, stand-ins for
`vigil.recording`'s segment index and export functions that serve small real MP4 files;
`test_clip_and_export_with_real_recording` uses the real package when it is importable.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from accounts import bearer, fast_auth, user_token
from vigil.api import deps as api_deps
from vigil.api.app import create_app
from vigil.api.exports import MAX_UNFINISHED
from vigil.api.routes.events import MAX_CLIP_S
from vigil.api.schemas import parse_time
from vigil.api.state import CameraInfo, ServiceState
from vigil.events import Event, EventStore
from vigil.service.hub import Hub
from vigil.service.messages import (
    AppStatus,
    CameraStatus,
    EventMessage,
    FrameMetadata,
    LiveFrame,
    SegmentInfo,
    TrackedObject,
)
from vigil.sources.urls import redact_url

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

REAL_RECORDING_MODULE = api_deps.load_recording  # the fixture swaps in a fake
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
HOUR = 3600.0


# --------------------------------------------------------------------------- helpers


class Clock:
    def __init__(self, now: float = T0 + 10 * HOUR) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jpeg(value: int = 128, size: tuple[int, int] = (32, 24)) -> bytes:
    image = np.full((size[1], size[0], 3), value, np.uint8)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


def write_mp4(path: Path, frames: int = 10, fps: int = 10) -> Path:
    """A small real H.264 (or MPEG-4 part 2) MP4."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), (i * 20) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def is_mp4(data: bytes) -> bool:
    return len(data) > 8 and data[4:8] == b"ftyp"


@dataclass
class FakeIndex:
    """Stand-in for `vigil.recording`'s SegmentIndex: `between` and `gaps` over a list."""

    segments: list[SegmentInfo] = field(default_factory=list)

    def between(self, camera: str, start: float, end: float) -> list[SegmentInfo]:
        return [
            s
            for s in sorted(self.segments, key=lambda s: s.start_time)
            if s.camera == camera and s.end_time > start and s.start_time < end
        ]

    def gaps(
        self, camera: str, start: float, end: float, *, min_gap: float = 1.5, edges: bool = False
    ) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        cursor: float | None = start if edges else None
        for s in self.between(camera, start, end):
            if cursor is not None and s.start_time - cursor > min_gap:
                out.append((cursor, s.start_time))
            cursor = s.end_time if cursor is None else max(cursor, s.end_time)
        if edges and end - (start if cursor is None else cursor) > min_gap:
            out.append((start if cursor is None else cursor, end))
        return out

    def total_bytes(self, camera: str | None = None) -> int:
        return sum(s.size_bytes for s in self.segments if camera in (None, s.camera))


class FakeRecording:
    """Stand-in for `vigil.recording`'s `export` and `event_clip`: copies the first
    overlapping segment (a real MP4) to the output and records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        #: While clear, an export with a progress callback reports half done and waits.
        self.gate = threading.Event()
        self.gate.set()

    class RecordingError(Exception):
        """Like `vigil.recording.export.RecordingError`: no footage in the range."""

    def export(
        self,
        index: FakeIndex,
        camera: str,
        start: float,
        end: float,
        out: Path,
        progress: Any = None,
    ) -> Path:
        self.calls.append(("export", (camera, start, end), {}))
        segments = index.between(camera, start, end)
        if not segments:
            raise self.RecordingError("nothing recorded")
        if progress is not None:
            progress(0.5)
            assert self.gate.wait(10)
        shutil.copyfile(segments[0].path, out)
        return Path(out)

    def event_clip(
        self,
        index: FakeIndex,
        camera: str,
        start: float,
        end: float | None,
        out: Path,
        *,
        pre_roll: float = 5.0,
        post_roll: float = 5.0,
    ) -> Path:
        self.calls.append(
            ("event_clip", (camera, start, end), {"pre": pre_roll, "post": post_roll})
        )
        segments = index.between(camera, start - pre_roll, (end or start) + post_roll)
        if not segments:
            raise self.RecordingError("nothing recorded")
        shutil.copyfile(segments[0].path, out)
        return Path(out)


def status(camera: str, wall_time: float, state: str = "online", **kw: Any) -> CameraStatus:
    return CameraStatus(camera, state, wall_time, **kw)  # type: ignore[arg-type]


def event(
    t: float,
    source: str = "cam1",
    app: str = "door",
    type: str = "line_crossing",  # noqa: A002
    class_name: str | None = "person",
    **kw: Any,
) -> Event:
    kw.setdefault("end_time", t if kw.get("state", "instant") == "instant" else None)
    return Event(
        source=source, app=app, type=type, start_time=t, frame_index=int(t) % 100000,
        class_name=class_name, **kw,
    )  # fmt: skip


@dataclass
class Site:
    state: ServiceState
    client: TestClient
    clock: Clock
    store: EventStore
    index: FakeIndex
    recording: FakeRecording
    tmp: Path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    clock = Clock()
    store = EventStore(f"sqlite:///{tmp_path / 'vigil.db'}")
    index = FakeIndex()
    recording = FakeRecording()
    monkeypatch.setattr(api_deps, "load_recording", lambda: recording)
    state = ServiceState(
        [
            CameraInfo.create("cam1", "rtsp://admin:secret@10.0.0.5:554/stream1", "Front door"),
            CameraInfo.create("cam2", "http://cam2.local/video.mjpg?user=admin&pwd=x&res=hd"),
            CameraInfo.create("lab", "/videos/lab.mp4", enabled=False),
        ],
        store,
        index=index,
        storage=tmp_path / "data",
        clock=clock,
    )
    app = create_app(state, fast_auth(store))
    headers = bearer(user_token(app.state.auth))
    with TestClient(app, headers=headers) as client:
        yield Site(state, client, clock, store, index, recording, tmp_path)
    store.close()


def add_segment(site: Site, camera: str, start: float, end: float, **kw: Any) -> SegmentInfo:
    path = write_mp4(site.tmp / "data" / "recordings" / camera / f"{start:.0f}.mp4")
    info = SegmentInfo(camera, str(path), start, end, path.stat().st_size, **kw)
    site.index.segments.append(info)
    return info


# --------------------------------------------------------------------------- state


def test_redact_url_strips_credentials() -> None:
    assert redact_url("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://10.0.0.5:554/s1"
    assert redact_url("rtsp://admin@cam/s1") == "rtsp://cam/s1"
    # a password with unescaped '@' or '/' must not leak either
    assert redact_url("rtsp://admin:p@ss/w@cam.local/live") == "rtsp://cam.local/live"
    cleaned = redact_url("http://cam/snap.cgi?user=admin&password=x&channel=2&pwd=y")
    assert cleaned == "http://cam/snap.cgi?channel=2"
    assert redact_url("/videos/demo.mp4") == "/videos/demo.mp4"
    assert redact_url("rtsp://cam.local/live?channel=1") == "rtsp://cam.local/live?channel=1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # A password holding an unescaped '?' or '#' (which end the host part of a URL).
        ("rtsp://admin:pa?ss@10.0.0.5:554/s1", "rtsp://10.0.0.5:554/s1"),
        ("rtsp://admin:pa#ss@cam.local/live?ch=1", "rtsp://cam.local/live?ch=1"),
        ("rtsp://admin:p?a#s/s@w@[fd00::5]:554/s1", "rtsp://[fd00::5]:554/s1"),
        # Credentials under vendors' own parameter names, and ';'-separated ones.
        ("http://cam/videostream.cgi?loginuse=admin&loginpas=s3cret&res=0",
         "http://cam/videostream.cgi?res=0"),
        ("http://cam/snap.cgi?channel=1;password=s3cret", "http://cam/snap.cgi?channel=1"),
        ("rtsp://cam/live;user=admin;password=s3cret;ch=1", "rtsp://cam/live;ch=1"),
        ("http://cam/video.cgi?usr=admin&Pwd=s3cret&fps=5", "http://cam/video.cgi?fps=5"),
        ("http://cam/v.cgi?API_KEY=s3cret&access%5Ftoken=s3cret", "http://cam/v.cgi"),
    ],
)  # fmt: skip
def test_redact_url_strips_credentials_however_written(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url) and "pa" not in redact_url(url).split("//")[1][:3]


def test_names_entering_the_config_api_are_printable(site: Site) -> None:
    zone = {"points": [[0, 0], [1, 0], [1, 1]]}
    for name in ("\ud800", "bell\u0007", "z" * 65):
        body = json.dumps({"zones": {name: zone}})  # "\ud800" escaped, as a client sends it
        r = site.client.put("/api/cameras/cam1/config", content=body)
        assert r.status_code == 422, (name, r.text)
    app = {"type": "occupancy", "settings": {}}
    r = site.client.put("/api/cameras/cam1/apps/tab%09name", json=app)
    assert r.status_code == 422


def test_state_apply_keeps_latest_status_and_frame(tmp_path: Path) -> None:
    with EventStore(":memory:") as store:
        state = ServiceState([CameraInfo.create("a", "rtsp://a/1")], store, storage=tmp_path)
        assert state.snapshots_dir == tmp_path / "snapshots"
        assert state.recordings_dir == tmp_path / "recordings"
        assert state.exports_dir == tmp_path / "exports"
        state.apply(status("a", time.time(), frames_in=5))
        state.apply(status("a", time.time(), frames_in=9))
        state.apply(status("ghost", time.time()))  # not configured: ignored
        state.apply(LiveFrame("a", 1.0, b"x"))
        state.apply(LiveFrame("a", 2.0, b"y"))
        assert state.status("a").frames_in == 9  # type: ignore[union-attr]
        assert state.status("ghost") is None
        assert state.live_frame("a") == LiveFrame("a", 2.0, b"y")
        assert state.is_up("a")
        with pytest.raises(ValueError, match="duplicate"):
            ServiceState([CameraInfo.create("a", "x"), CameraInfo.create("a", "y")], store)


def test_state_from_site_config(tmp_path: Path) -> None:
    try:
        from vigil.service.config import SiteConfig
    except ImportError as err:  # the site configuration is still being written
        pytest.skip(f"vigil.service.config: {err}")

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "gate", "url": "rtsp://u:p@gate/1", "record": {"pre_roll": 3}},
                {"id": "yard", "url": "rtsp://yard/1", "enabled": False},
            ],
            "storage": {"directory": str(tmp_path / "site")},
        }
    )
    with EventStore(":memory:") as store:
        state = ServiceState.from_site(site, store)
    assert [c.id for c in state.cameras.values()] == ["gate", "yard"]
    assert state.cameras["gate"].url == "rtsp://gate/1"
    assert state.cameras["gate"].pre_roll == 3.0
    assert not state.cameras["yard"].enabled
    assert state.recordings_dir == tmp_path / "site" / "recordings"


def test_parse_time() -> None:
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time(12) == 12.0
    assert parse_time("2023-11-14T22:13:20Z") == T0
    assert parse_time("2023-11-14T22:13:20") == T0  # naive: UTC
    assert parse_time("2023-11-14T23:13:20+01:00") == T0
    for bad in ("nan", "inf", "-inf", "1e999", "yesterday", "", True, None):
        with pytest.raises(ValueError):
            parse_time(bad)


# --------------------------------------------------------------------------- health, cameras


def test_health_reflects_camera_states(site: Site) -> None:
    def states() -> dict[str, tuple[str, bool]]:
        return {c["id"]: (c["state"], c["up"]) for c in site.client.get("/api/cameras").json()}

    body = site.client.get("/api/health").json()
    assert body["ok"] is False and body["status"] == "degraded"
    assert set(body) == {"ok", "status", "time", "uptime_s", "disk_pressure"}  # nothing more
    assert states() == {
        "cam1": ("unknown", False),
        "cam2": ("unknown", False),
        "lab": ("unknown", False),
    }
    now = site.clock.now
    site.state.apply(status("cam1", now))
    site.state.apply(status("cam2", now))
    anonymous = TestClient(site.client.app)  # type: ignore[arg-type]
    body = anonymous.get("/api/health").json()
    assert body["ok"] is True and body["status"] == "ok"  # "lab" is disabled
    assert [up for _, up in states().values()] == [True, True, False]

    site.state.apply(status("cam2", now, "reconnecting"))
    assert site.client.get("/api/health").json()["ok"] is False
    site.state.apply(status("cam2", now))
    site.clock.now += 60  # workers went quiet: stale statuses are not "up"
    body = site.client.get("/api/health").json()
    assert body["ok"] is False
    assert states()["cam1"] == ("online", False)


def test_cameras_list_without_credentials(site: Site) -> None:
    cameras = site.client.get("/api/cameras").json()
    assert [c["id"] for c in cameras] == ["cam1", "cam2", "lab"]
    assert cameras[0]["name"] == "Front door"
    assert cameras[0]["url"] == "rtsp://10.0.0.5:554/stream1"
    assert cameras[1]["url"] == "http://cam2.local/video.mjpg?res=hd"
    assert cameras[1]["name"] == "cam2"
    assert cameras[2]["enabled"] is False
    assert cameras[0]["live_url"] == "/api/cameras/cam1/live.mjpeg"
    assert cameras[0]["latest_url"] == "/api/cameras/cam1/latest.jpg"
    text = site.client.get("/api/cameras").text
    assert "secret" not in text and "pwd" not in text


def test_camera_detail_status(site: Site) -> None:
    body = site.client.get("/api/cameras/cam1").json()
    assert body["state"] == "unknown" and body["status"] is None
    assert body["live_frame_at"] is None
    site.state.apply(
        status(
            "cam1",
            site.clock.now - 1.5,
            frames_in=300,
            frames_processed=100,
            frames_dropped=2,
            reconnects=1,
            fps_in=15.0,
            fps_processed=5.0,
            detector_latency_ms=12.5,
            queue_depth=3,
            recording_lag_s=4.0,
            counters={"door": {"person in": 3.0, "person out": 1.0}},
        )
    )
    site.state.apply(LiveFrame("cam1", site.clock.now - 1.0, jpeg()))
    body = site.client.get("/api/cameras/cam1").json()
    s = body["status"]
    assert body["state"] == "online" and body["up"] is True
    assert s["fps_in"] == 15.0 and s["fps_processed"] == 5.0
    assert (s["frames_in"], s["frames_processed"], s["frames_dropped"]) == (300, 100, 2)
    assert s["reconnects"] == 1 and s["queue_depth"] == 3
    assert s["detector_latency_ms"] == 12.5 and s["recording_lag_s"] == 4.0
    assert s["counters"] == {"door": {"person in": 3.0, "person out": 1.0}}
    assert s["age_s"] == pytest.approx(1.5)
    assert body["totals"]["frames_in"] == 300
    assert body["live_frame_at"] == site.clock.now - 1.0


def test_camera_detail_per_app_state(site: Site) -> None:
    """Each app instance's state, restarts, last error, counters, the boundary's error and
    rejection counts, backoff and memory-cgroup isolation, for a viewer too."""
    viewer = bearer(user_token(site.client.app.state.auth, "watcher", "viewer"))  # type: ignore[attr-defined]
    assert site.client.get("/api/cameras/cam1", headers=viewer).json()["apps"] == []
    site.state.apply(
        status(
            "cam1",
            site.clock.now,
            apps=[
                AppStatus("line_count", "door", True, "running", counters={"person in": 2.0}),
                AppStatus("webhook", "notify", True, "restarting", "exit code 1", restarts=3),
                AppStatus("loitering", "porch", True, "failing", "process() raised KeyError"),
                AppStatus("occupancy", "hall", False, "stopped"),
            ],
        )
    )
    webhook, loitering = site.state.status("cam1").apps[1:3]  # type: ignore[union-attr]
    webhook.sandboxed, webhook.memory_cgroup, webhook.rejected = True, False, 2
    loitering.errors, loitering.backoff_s = 4, 7.96
    apps = site.client.get("/api/cameras/cam1", headers=viewer).json()["apps"]
    healthy = {
        "errors": 0,
        "rejected": 0,
        "backoff_s": 0.0,
        "sandboxed": None,
        "memory_cgroup": None,
    }
    assert apps == [
        {
            "type": "line_count",
            "name": "door",
            "enabled": True,
            "state": "running",
            "restarts": 0,
            "last_error": None,
            "counters": {"person in": 2.0},
            **healthy,
        },
        {
            "type": "webhook",
            "name": "notify",
            "enabled": True,
            "state": "restarting",
            "restarts": 3,
            "last_error": "exit code 1",
            "counters": {},
            **healthy,
            "rejected": 2,
            "sandboxed": True,
            "memory_cgroup": False,
        },
        {
            "type": "loitering",
            "name": "porch",
            "enabled": True,
            "state": "failing",
            "restarts": 0,
            "last_error": "process() raised KeyError",
            "counters": {},
            **healthy,
            "errors": 4,
            "backoff_s": 8.0,
        },
        {
            "type": "occupancy",
            "name": "hall",
            "enabled": False,
            "state": "stopped",
            "restarts": 0,
            "last_error": None,
            "counters": {},
            **healthy,
        },
    ]
    assert "settings" not in apps[0]  # settings are the admin's (GET .../config)
    assert site.client.get("/api/cameras/cam2", headers=viewer).json()["apps"] == []


def test_camera_detail_apps_follow_the_site_config(tmp_path: Path) -> None:
    """With a site, the configured instances in config order; "unknown" until reported."""
    from vigil.service.config import SiteConfig

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "cam1",
                    "url": "rtsp://cam1/1",
                    "lines": {"gate": {"start": [0, 10], "end": [60, 10]}},
                    "apps": [
                        {"type": "line_count", "name": "door", "settings": {"line": "gate"}},
                        {"type": "occupancy", "enabled": False},
                    ],
                }
            ],
            "storage": {"directory": str(tmp_path / "site")},
        }
    )
    with EventStore(f"sqlite:///{tmp_path / 'vigil.db'}") as store:
        state = ServiceState.from_site(site, store)
        app = create_app(state, fast_auth(store))
        with TestClient(app, headers=bearer(user_token(app.state.auth))) as client:
            apps = client.get("/api/cameras/cam1").json()["apps"]
            assert [(a["type"], a["name"], a["enabled"], a["state"]) for a in apps] == [
                ("line_count", "door", True, "unknown"),
                ("occupancy", "occupancy", False, "unknown"),
            ]
            state.apply(
                status(
                    "cam1",
                    time.time(),
                    apps=[AppStatus("line_count", "door", True, "running", counters={"n": 1.0})],
                )
            )
            apps = client.get("/api/cameras/cam1").json()["apps"]
            assert (apps[0]["state"], apps[0]["counters"]) == ("running", {"n": 1.0})
            assert apps[1]["state"] == "unknown"


def test_camera_state_not_known_to_the_api(site: Site) -> None:
    """Workers pass on their source's state ("ended" for a finished file): shown as is."""
    site.state.apply(status("lab", site.clock.now, "ended"))
    assert site.client.get("/api/cameras/lab").json()["state"] == "ended"
    assert site.client.get("/api/cameras").json()[2]["state"] == "ended"


def test_unknown_camera_is_404_json(site: Site) -> None:
    for path in (
        "/api/cameras/nope",
        "/api/cameras/nope/latest.jpg",
        "/api/cameras/nope/live.mjpeg",
        "/api/recordings?camera=nope",
        f"/api/recordings/export?camera=nope&start={T0}&end={T0 + 10}",
    ):
        r = site.client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json"
        assert "nope" in r.json()["detail"]


def test_latest_jpg(site: Site) -> None:
    r = site.client.get("/api/cameras/cam1/latest.jpg")
    assert r.status_code == 404 and "no frame" in r.json()["detail"]
    image = jpeg(200)
    site.state.apply(LiveFrame("cam1", T0, image))
    r = site.client.get("/api/cameras/cam1/latest.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    assert r.content == image


# --------------------------------------------------------------------------- events


@pytest.fixture
def events(site: Site) -> list[Event]:
    evs = [
        event(T0 + 10, "cam1", "door", "line_crossing", "person", line="gate",
              attributes={"direction": "in"}),
        event(T0 + 20, "cam1", "door", "line_crossing", "car", line="gate",
              attributes={"direction": "out"}),
        event(T0 + 30, "cam2", "yard", "intrusion", "person", zone="lawn", state="start"),
        event(T0 + 40, "cam2", "yard", "loitering", "person", zone="lawn"),
        event(T0 + 50, "cam1", "room", "occupancy", None, attributes={"count": 2}),
    ]  # fmt: skip
    site.store.add(evs)
    return evs


def test_events_newest_first_with_total(site: Site, events: list[Event]) -> None:
    body = site.client.get("/api/events").json()
    assert body["total"] == 5 and body["limit"] == 100 and body["offset"] == 0
    assert [e["start_time"] for e in body["items"]] == [T0 + 50, T0 + 40, T0 + 30, T0 + 20, T0 + 10]
    first = body["items"][-1]
    assert first["id"] == events[0].id
    assert first["camera"] == "cam1" and first["app"] == "door"
    assert first["type"] == "line_crossing" and first["class_name"] == "person"
    assert first["line"] == "gate" and first["attributes"] == {"direction": "in"}
    assert first["snapshot_url"] is None
    assert first["clip_url"] == f"/api/events/{events[0].id}/clip.mp4"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("camera=cam1", [50, 20, 10]),
        ("camera=cam2", [40, 30]),
        ("camera=nobody", []),
        ("app=door", [20, 10]),
        ("type=line_crossing", [20, 10]),
        ("class_name=car", [20]),
        ("class_name=person&camera=cam2", [40, 30]),
        (f"since={T0 + 20}", [50, 40, 30, 20]),
        (f"until={T0 + 20}", [10]),
        (f"since={T0 + 15}&until={T0 + 45}", [40, 30, 20]),
        ("since=2023-11-14T22:13:40Z&until=2023-11-14T22:14:05Z", [40, 30, 20]),
    ],
)
def test_events_filters(site: Site, events: list[Event], query: str, expected: list[int]) -> None:
    body = site.client.get(f"/api/events?{query}").json()
    assert [e["start_time"] - T0 for e in body["items"]] == expected
    assert body["total"] == len(expected)


def test_events_pagination(site: Site, events: list[Event]) -> None:
    pages = [site.client.get(f"/api/events?limit=2&offset={o}").json() for o in (0, 2, 4, 6)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    ids = [e["id"] for p in pages for e in p["items"]]
    assert ids == [e.id for e in reversed(events)]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "offset=99999999999999999999",
        "since=yesterday",
        "since=nan",
        "until=inf",
        "since=1e999",
    ],
)
def test_events_bad_params_are_422(site: Site, query: str) -> None:
    r = site.client.get(f"/api/events?{query}")
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


def test_non_finite_attributes_become_null(site: Site) -> None:
    ev = event(T0, attributes={"speed": float("nan"), "v": [1.0, float("inf")]})
    site.store.add([ev])
    r = site.client.get(f"/api/events/{ev.id}")
    assert r.status_code == 200
    assert r.json()["attributes"] == {"speed": None, "v": [1.0, None]}
    assert site.client.get("/api/events").status_code == 200
    with site.client.websocket_connect("/api/ws") as ws:
        site.state.hub.publish(EventMessage(ev, T0))
        assert json.loads(ws.receive_text())["attributes"] == {"speed": None, "v": [1.0, None]}


def test_event_detail_and_404(site: Site, events: list[Event]) -> None:
    body = site.client.get(f"/api/events/{events[2].id}").json()
    assert body["type"] == "intrusion" and body["state"] == "start"
    assert body["end_time"] is None and body["zone"] == "lawn"
    for path in ("/api/events/nope", "/api/events/nope/snapshot.jpg", "/api/events/nope/clip.mp4"):
        r = site.client.get(path)
        assert r.status_code == 404
        assert r.json() == {"detail": "unknown event 'nope'"}


def test_event_snapshot(site: Site, events: list[Event]) -> None:
    ev = events[0]
    assert site.client.get(f"/api/events/{ev.id}/snapshot.jpg").status_code == 404
    image = jpeg(90)
    path = site.state.snapshots_dir / "cam1" / f"{ev.id}.jpg"  # where workers write them
    path.parent.mkdir(parents=True)
    path.write_bytes(image)
    r = site.client.get(f"/api/events/{ev.id}/snapshot.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == image
    body = site.client.get(f"/api/events/{ev.id}").json()
    assert body["snapshot_url"] == f"/api/events/{ev.id}/snapshot.jpg"

    # a snapshot elsewhere, named by the worker's event message
    other = site.tmp / "elsewhere.jpg"
    other.write_bytes(jpeg(30))
    site.state.apply(EventMessage(events[1], T0, str(other)))
    r = site.client.get(f"/api/events/{events[1].id}/snapshot.jpg")
    assert r.status_code == 200 and r.content == other.read_bytes()


def test_event_clip_is_cut_once_and_cached(site: Site, events: list[Event]) -> None:
    ev = events[0]  # instant at T0 + 10
    add_segment(site, "cam1", T0, T0 + 10)
    add_segment(site, "cam1", T0 + 10, T0 + 20)
    r = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert is_mp4(r.content)
    assert ev.id in r.headers["content-disposition"]
    assert site.recording.calls == [
        ("event_clip", ("cam1", T0 + 10, T0 + 10), {"pre": 5.0, "post": 5.0})
    ]
    cached = site.state.exports_dir / "clips" / f"{ev.id}.mp4"
    assert cached.is_file()
    again = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert again.status_code == 200 and again.content == r.content
    assert len(site.recording.calls) == 1  # served from the cache
    assert not list((site.state.exports_dir / "clips").glob(".tmp-*"))
    total, entries = site.client.app.state.auth.audit_log(action="playback.clip")  # type: ignore[attr-defined]
    assert total == 2  # every playback is in the audit log: who, what, from where
    assert (entries[0].username, entries[0].target, entries[0].client_ip) == (
        "admin", ev.id, "testclient",
    )  # fmt: skip
    assert entries[0].detail == {"camera": "cam1"}


def test_event_clip_of_ongoing_event_is_not_cached(site: Site, events: list[Event]) -> None:
    ev = events[2]  # intrusion on cam2, started at T0 + 30, no end yet
    add_segment(site, "cam2", T0 + 20, T0 + 40)
    site.clock.now = T0 + 41
    r = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert r.status_code == 200 and is_mp4(r.content)
    assert not (site.state.exports_dir / "clips" / f"{ev.id}.mp4").exists()
    assert not list((site.state.exports_dir / "clips").glob(".tmp-*"))  # temp removed


def test_event_clip_of_event_left_open_is_bounded(site: Site, events: list[Event]) -> None:
    ev = events[2]  # started at T0 + 30 and never ended; now is ten hours later
    add_segment(site, "cam2", T0 + 20, T0 + 40)
    assert site.client.get(f"/api/events/{ev.id}/clip.mp4").status_code == 200
    ((_, (_, start, end), roll),) = site.recording.calls
    assert start == T0 + 30 and end == T0 + 30 + MAX_CLIP_S
    assert roll == {"pre": 5.0, "post": 0.0}


def test_event_clip_without_footage_is_404(site: Site, events: list[Event]) -> None:
    add_segment(site, "cam1", T0 + 1000, T0 + 1010)
    r = site.client.get(f"/api/events/{events[0].id}/clip.mp4")
    assert r.status_code == 404 and "no recording" in r.json()["detail"]
    site.state.index = None
    r = site.client.get(f"/api/events/{events[0].id}/clip.mp4")
    assert r.status_code == 404 and "not enabled" in r.json()["detail"]


# --------------------------------------------------------------------------- recordings


def test_recordings_segments_and_gaps(site: Site) -> None:
    add_segment(site, "cam1", T0, T0 + 10, motion=True)
    add_segment(site, "cam1", T0 + 10, T0 + 20)
    add_segment(site, "cam1", T0 + 40, T0 + 50, objects=True)
    add_segment(site, "cam2", T0, T0 + 10)
    r = site.client.get(f"/api/recordings?camera=cam1&start={T0}&end={T0 + 60}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["camera"] == "cam1" and body["start"] == T0 and body["end"] == T0 + 60
    assert [(s["start_time"] - T0, s["end_time"] - T0) for s in body["segments"]] == [
        (0, 10),
        (10, 20),
        (40, 50),
    ]
    assert body["segments"][0]["motion"] is True and body["segments"][2]["objects"] is True
    assert body["segments"][0]["size_bytes"] > 0
    assert [(g["start"] - T0, g["end"] - T0) for g in body["gaps"]] == [(20, 40), (50, 60)]
    assert body["recorded_s"] == 30.0
    assert "path" not in body["segments"][0]  # no filesystem paths on the API

    site.clock.now = T0 + 30  # defaults: the last hour
    body = site.client.get("/api/recordings?camera=cam1").json()
    assert body["end"] == T0 + 30 and body["start"] == T0 + 30 - HOUR
    assert len(body["segments"]) == 2


@pytest.mark.parametrize(
    "query",
    [
        "",  # camera is required
        f"camera=cam1&start={T0}&end={T0}",
        f"camera=cam1&start={T0}&end={T0 - 5}",
        f"camera=cam1&start={T0}&end={T0 + 2 * 86400}",
        "camera=cam1&start=abc",
    ],
)
def test_recordings_bad_range_is_422(site: Site, query: str) -> None:
    assert site.client.get(f"/api/recordings?{query}").status_code == 422


def test_recordings_export(site: Site) -> None:
    seg = add_segment(site, "cam1", T0, T0 + 10)
    r = site.client.get(f"/api/recordings/export?camera=cam1&start={T0 + 2}&end={T0 + 8}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert r.content == Path(seg.path).read_bytes() and is_mp4(r.content)
    assert "cam1-20231114T221322Z-6s.mp4" in r.headers["content-disposition"]
    assert site.recording.calls == [("export", ("cam1", T0 + 2, T0 + 8), {})]
    assert not list(site.state.exports_dir.glob(".tmp-*"))  # the temporary file is gone

    r = site.client.get(f"/api/recordings/export?camera=cam1&start={T0 + 100}&end={T0 + 110}")
    assert r.status_code == 404 and "nothing recorded" in r.json()["detail"]
    for query in (
        f"camera=cam1&start={T0}",  # end required
        f"camera=cam1&start={T0}&end={T0 + 4 * HOUR}",  # too long
        f"camera=cam1&start={T0}&end={T0 - 1}",
    ):
        assert site.client.get(f"/api/recordings/export?{query}").status_code == 422
    total, entries = site.client.app.state.auth.audit_log(action="export")  # type: ignore[attr-defined]
    assert total == 2 and entries[-1].username == "admin" and entries[-1].target == "cam1"
    assert entries[-1].detail == {"start": T0 + 2, "end": T0 + 8}


def wait_for_job(site: Site, job_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        job = site.client.get(f"/api/recordings/exports/{job_id}").json()
        if job["state"] == state or time.monotonic() > deadline:
            assert job["state"] == state, job
            return job
        time.sleep(0.02)


def test_export_job_progress_then_download(site: Site) -> None:
    seg = add_segment(site, "cam1", T0, T0 + 10)
    site.recording.gate.clear()
    body = {"camera": "cam1", "start": T0 + 2, "end": T0 + 8}
    r = site.client.post("/api/recordings/exports", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running") and job["file_url"] is None
    running = wait_for_job(site, job["id"], "running")
    assert running["percent"] == 50  # the exporter's progress, while it copies
    file = site.client.get(f"/api/recordings/exports/{job['id']}/file")
    assert file.status_code == 409 and "running" in file.json()["detail"]

    site.recording.gate.set()
    done = wait_for_job(site, job["id"], "done")
    assert done["percent"] == 100
    assert done["file_url"] == f"/api/recordings/exports/{job['id']}/file"
    file = site.client.get(done["file_url"])
    assert file.status_code == 200 and file.headers["content-type"] == "video/mp4"
    assert file.content == Path(seg.path).read_bytes()
    assert "cam1-20231114T221322Z-6s.mp4" in file.headers["content-disposition"]
    _, entries = site.client.app.state.auth.audit_log(action="export")  # type: ignore[attr-defined]
    assert [(e.target, e.detail) for e in entries] == [("cam1", {"start": T0 + 2, "end": T0 + 8})]

    # Nobody else sees the job; a range without footage or a bad one is refused at once.
    other = bearer(user_token(site.client.app.state.auth, "other", "operator"))  # type: ignore[attr-defined]
    assert site.client.get(f"/api/recordings/exports/{job['id']}", headers=other).status_code == 404
    assert site.client.get(done["file_url"], headers=other).status_code == 404
    empty = {"camera": "cam1", "start": T0 + 100, "end": T0 + 110}
    assert site.client.post("/api/recordings/exports", json=empty).status_code == 404
    unknown = {"camera": "nope", "start": T0, "end": T0 + 5}
    assert site.client.post("/api/recordings/exports", json=unknown).status_code == 404
    for start, end in ((T0, T0 - 1), (T0, T0 + 4 * HOUR)):
        bad = {"camera": "cam1", "start": start, "end": end}
        assert site.client.post("/api/recordings/exports", json=bad).status_code == 422
    viewer = bearer(user_token(site.client.app.state.auth, "watcher", "viewer"))  # type: ignore[attr-defined]
    assert site.client.post("/api/recordings/exports", json=body, headers=viewer).status_code == 403


def test_export_jobs_are_limited(site: Site) -> None:
    add_segment(site, "cam1", T0, T0 + 10)
    site.recording.gate.clear()  # every job waits
    body = {"camera": "cam1", "start": T0, "end": T0 + 5}
    try:
        for _ in range(MAX_UNFINISHED):
            assert site.client.post("/api/recordings/exports", json=body).status_code == 202
        refused = site.client.post("/api/recordings/exports", json=body)
        assert refused.status_code == 429 and "try again" in refused.json()["detail"]
    finally:
        site.recording.gate.set()


def test_export_job_that_fails_says_why(site: Site) -> None:
    add_segment(site, "cam1", T0, T0 + 10)
    path = Path(site.index.segments[0].path)
    path.unlink()  # retention deleted it after the job was accepted: the copy fails
    job = site.client.post(
        "/api/recordings/exports", json={"camera": "cam1", "start": T0, "end": T0 + 5}
    ).json()
    failed = wait_for_job(site, job["id"], "failed")
    assert failed["error"] and failed["file_url"] is None
    assert site.client.get(f"/api/recordings/exports/{job['id']}/file").status_code == 409


def test_recording_segment_playback_with_ranges(site: Site) -> None:
    """Each segment by id, seekable (HTTP Range), audited once per playback, and hidden from
    a user who may not see its camera."""
    from vigil.recording.index import SegmentIndex

    index = SegmentIndex(site.store)
    site.state.index = index
    path = write_mp4(site.tmp / "data" / "recordings" / "cam1" / "a.mp4", frames=30)
    data = path.read_bytes()
    seg = index.add(SegmentInfo("cam1", str(path), T0, T0 + 3, len(data)))
    other = write_mp4(site.tmp / "data" / "recordings" / "cam2" / "b.mp4")
    seg2 = index.add(SegmentInfo("cam2", str(other), T0, T0 + 1, other.stat().st_size))

    listing = site.client.get(f"/api/recordings?camera=cam1&start={T0 - 10}&end={T0 + 10}")
    assert [s["id"] for s in listing.json()["segments"]] == [seg.id]
    url = f"/api/recordings/segments/{seg.id}.mp4"
    r = site.client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert r.content == data and r.headers["accept-ranges"] == "bytes"
    r = site.client.get(url, headers={"Range": "bytes=0-"})
    assert r.status_code == 206 and r.content == data
    r = site.client.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = site.client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert r.status_code == 416

    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    total, entries = auth.audit_log(action="playback.segment")
    assert total == 2  # the two requests from byte 0; seeking is not a new playback
    assert entries[-1].target == "cam1"
    assert entries[-1].detail == {"segment": seg.id, "start": T0, "end": T0 + 3}

    restricted = bearer(user_token(auth, "frontdesk", "operator", ["cam2"]))
    assert site.client.get(url, headers=restricted).status_code == 404
    assert (
        site.client.get(f"/api/recordings/segments/{seg2.id}.mp4", headers=restricted).status_code
        == 200
    )
    viewer = bearer(user_token(auth, "watcher", "viewer"))
    assert site.client.get(url, headers=viewer).status_code == 403
    assert site.client.get("/api/recordings/segments/999.mp4").status_code == 404
    for bad in ("abc", "0", "99999999999999999999"):
        assert site.client.get(f"/api/recordings/segments/{bad}.mp4").status_code == 422
    path.unlink()  # retention deleted the file before the index row
    r = site.client.get(url)
    assert r.status_code == 404 and "no file" in r.json()["detail"]


def test_restricted_users_event_list_and_counts(site: Site, events: list[Event]) -> None:
    """A user limited to some cameras lists and counts only their events (all pages)."""
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    only_cam2 = bearer(user_token(auth, "frontdesk", "viewer", ["cam2"]))
    body = site.client.get("/api/events?limit=1", headers=only_cam2).json()
    assert body["total"] == 2 and [e["start_time"] - T0 for e in body["items"]] == [40]
    body = site.client.get("/api/events?limit=1&offset=1&class_name=person", headers=only_cam2)
    assert [e["start_time"] - T0 for e in body.json()["items"]] == [30]
    assert site.client.get("/api/events?camera=cam2", headers=only_cam2).json()["total"] == 2
    assert site.client.get("/api/events?camera=cam1", headers=only_cam2).status_code == 403
    nobody = bearer(user_token(auth, "lab-only", "viewer", ["lab"]))  # a camera without events
    assert site.client.get("/api/events", headers=nobody).json() == {
        "total": 0, "limit": 100, "offset": 0, "items": [],
    }  # fmt: skip


def test_recordings_without_recording_module(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ImportError("No module named 'vigil.recording'")

    monkeypatch.setattr(api_deps, "load_recording", missing)
    add_segment(site, "cam1", T0, T0 + 10)
    r = site.client.get(f"/api/recordings/export?camera=cam1&start={T0}&end={T0 + 5}")
    assert r.status_code == 404 and "not available" in r.json()["detail"]


@pytest.mark.integration
def test_clip_and_export_with_real_recording(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """INTEGRATION: the real `vigil.recording` (index, export, event_clip) behind the API."""
    try:
        from vigil.recording import SegmentIndex

        exporter = REAL_RECORDING_MODULE()  # what the API imports: vigil.recording.export
    except ImportError as err:
        pytest.skip(f"vigil.recording not available: {err}")
    monkeypatch.setattr(api_deps, "load_recording", REAL_RECORDING_MODULE)
    assert callable(exporter.export) and callable(exporter.event_clip)
    index = SegmentIndex(site.store)
    for k in range(3):
        path = write_mp4(site.tmp / "real" / f"{k}.mp4", frames=20, fps=10)
        index.add(SegmentInfo("cam1", str(path), T0 + 2 * k, T0 + 2 * k + 2, path.stat().st_size))
    site.state.index = index
    ev = event(T0 + 3, "cam1")
    site.store.add([ev])
    listing = site.client.get(f"/api/recordings?camera=cam1&start={T0}&end={T0 + 6}").json()
    assert len(listing["segments"]) == 3
    assert listing["gaps"] == []
    for url, seconds in (
        (f"/api/recordings/export?camera=cam1&start={T0 + 1}&end={T0 + 5}", 5.0),  # from key 0
        (f"/api/events/{ev.id}/clip.mp4", 6.0),  # T0+3 ± 5 s, all the footage there is
    ):
        r = site.client.get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "video/mp4" and is_mp4(r.content)
        assert mp4_seconds(r.content, site.tmp) == pytest.approx(seconds, abs=0.5)
    assert (site.state.exports_dir / "clips" / f"{ev.id}.mp4").is_file()
    assert site.client.get(f"/api/events/{ev.id}/clip.mp4").status_code == 200  # cached
    body = {"camera": "cam1", "start": T0 + 1, "end": T0 + 5}
    job = site.client.post("/api/recordings/exports", json=body).json()
    done = wait_for_job(site, job["id"], "done")
    assert done["percent"] == 100
    r = site.client.get(done["file_url"])
    assert is_mp4(r.content) and mp4_seconds(r.content, site.tmp) == pytest.approx(5.0, abs=0.5)
    r = site.client.get(f"/api/recordings/export?camera=cam1&start={T0 + 60}&end={T0 + 70}")
    assert r.status_code == 404


def mp4_seconds(data: bytes, tmp: Path) -> float:
    import av

    path = tmp / "probe.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames / float(stream.average_rate or 10)


# --------------------------------------------------------------------------- counts


def test_counts_line_crossings_and_occupancy(site: Site) -> None:
    def crossing(t: float, cls: str, direction: str, app: str = "door", source: str = "cam1"):
        return event(t, source, app, "line_crossing", cls, line="gate",
                     attributes={"direction": direction})  # fmt: skip

    def occupancy(t: float, count: int, app: str = "room", source: str = "cam1"):
        return event(t, source, app, "occupancy", None, zone="hall",
                     attributes={"count": count, "by_class": {"person": count}})  # fmt: skip

    site.store.add(
        [
            crossing(T0 + 10, "person", "in"),
            crossing(T0 + 20, "person", "in"),
            crossing(T0 + 30, "person", "out"),
            crossing(T0 + HOUR + 5, "person", "in"),
            crossing(T0 + 2 * HOUR + 5, "car", "out"),
            crossing(T0 + 50, "person", "in", source="cam2"),
            occupancy(T0 + 100, 2),
            occupancy(T0 + 200, 4),
            occupancy(T0 + 2 * HOUR + 10, 1),
            event(T0 + 60, "cam1", "room", "occupancy_alarm", None, state="start"),
        ]
    )
    hour0 = (T0 // HOUR) * HOUR  # buckets are aligned to the epoch without `since`
    body = site.client.get("/api/counts?camera=cam1").json()
    assert body["interval"] == 3600
    assert body["buckets"] == [hour0, hour0 + HOUR, hour0 + 2 * HOUR]
    series = {(s["class_name"], s["direction"]): s for s in body["line_crossings"]}
    assert series[("person", "in")]["counts"] == [2, 1, 0]
    assert series[("person", "out")]["counts"] == [1, 0, 0]
    assert series[("car", "out")]["counts"] == [0, 0, 1]
    assert series[("person", "in")]["line"] == "gate" and series[("person", "in")]["total"] == 3
    assert all(s["camera"] == "cam1" for s in body["line_crossings"])
    (occ,) = body["occupancy"]
    assert (occ["app"], occ["zone"], occ["samples"]) == ("room", "hall", 3)
    assert occ["max"] == [4, None, 1] and occ["mean"] == [3.0, None, 1.0]
    assert occ["last"] == [4, None, 1]

    body = site.client.get(f"/api/counts?since={T0}&until={T0 + 60}&interval=30").json()
    assert body["buckets"] == [T0, T0 + 30]
    series = {(s["camera"], s["class_name"], s["direction"]): s["counts"]
              for s in body["line_crossings"]}  # fmt: skip
    assert series == {
        ("cam1", "person", "in"): [2, 0],
        ("cam1", "person", "out"): [0, 1],
        ("cam2", "person", "in"): [0, 1],
    }
    assert body["occupancy"] == []

    assert site.client.get("/api/counts?app=room").json()["line_crossings"] == []
    empty = site.client.get("/api/counts?camera=nobody").json()
    assert empty["buckets"] == [] and empty["line_crossings"] == [] and empty["occupancy"] == []


@pytest.mark.parametrize(
    "query",
    [
        "interval=0",
        "interval=-5",
        "interval=1.5",
        "interval=999999999",
        f"since={T0}&until={T0}",
        f"since={T0}&until={T0 + 10_001}&interval=1",  # too many buckets
        "since=-1e300&until=1e300",
        "until=nan",
    ],
)
def test_counts_bad_params_are_422(site: Site, query: str) -> None:
    assert site.client.get(f"/api/counts?{query}").status_code == 422


# --------------------------------------------------------------------------- WebSocket


def objects_message(camera: str, frame_index: int = 7) -> FrameMetadata:
    return FrameMetadata(
        camera, frame_index, 1.5, T0, 640, 480,
        [TrackedObject(3, 0, "person", 0.9, (1.0, 2.0, 30.0, 60.0))],
    )  # fmt: skip


def test_websocket_streams_events_and_objects(site: Site) -> None:
    ev = event(T0, "cam1", attributes={"direction": "in", "n": np.int64(3)})
    with site.client.websocket_connect("/api/ws") as ws:
        assert site.client.app.state.ws_clients == 1  # type: ignore[attr-defined]
        site.state.hub.publish(EventMessage(ev, T0 + 0.2, "/snap.jpg"))
        site.state.hub.publish(status("cam1", T0))  # not for the WebSocket
        site.state.hub.publish(objects_message("cam2"))
        first = ws.receive_json()
        assert first["kind"] == "event"
        assert first["id"] == ev.id and first["camera"] == "cam1"
        assert first["attributes"] == {"direction": "in", "n": 3}
        assert first["wall_time"] == T0 + 0.2 and first["snapshot"] is True
        second = ws.receive_json()
        assert second == {
            "kind": "objects",
            "camera": "cam2",
            "frame_index": 7,
            "pts": 1.5,
            "wall_time": T0,
            "width": 640,
            "height": 480,
            "objects": [
                {
                    "track_id": 3,
                    "class_id": 0,
                    "class_name": "person",
                    "confidence": 0.9,
                    "box": [1.0, 2.0, 30.0, 60.0],
                }
            ],
        }
    deadline = time.monotonic() + 5
    while site.client.app.state.ws_clients and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert site.client.app.state.ws_clients == 0  # type: ignore[attr-defined]
    assert not site.state.hub._subscriptions  # unsubscribed on disconnect


def test_live_frames_of_every_camera_over_one_websocket(site: Site) -> None:
    """`WS /api/live`: each camera's new live JPEG as a binary message (id, newline, JPEG),
    a frame sent once, only the cameras the user may see."""
    one, two = jpeg(10), jpeg(200)
    site.state.apply(LiveFrame("cam1", site.clock.now, one))
    site.state.apply(LiveFrame("cam2", site.clock.now, two))
    with site.client.websocket_connect("/api/live?fps=30") as ws:
        assert site.client.app.state.live_streams == 1  # type: ignore[attr-defined]
        got = dict(ws.receive_bytes().split(b"\n", 1) for _ in range(2))
        assert got == {b"cam1": one, b"cam2": two}
        newer = jpeg(90)
        site.state.apply(LiveFrame("cam2", site.clock.now + 0.25, newer))
        assert ws.receive_bytes() == b"cam2\n" + newer  # cam1 unchanged: not sent again
    deadline = time.monotonic() + 5
    while site.client.app.state.live_streams and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert site.client.app.state.live_streams == 0  # type: ignore[attr-defined]

    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    only_cam2 = bearer(user_token(auth, "frontdesk", "viewer", ["cam2"]))
    with site.client.websocket_connect("/api/live", headers=only_cam2) as ws:
        assert ws.receive_bytes() == b"cam2\n" + newer
        site.state.apply(LiveFrame("cam1", site.clock.now + 0.5, one))
        site.state.apply(LiveFrame("cam2", site.clock.now + 0.5, two))
        assert ws.receive_bytes() == b"cam2\n" + two  # never cam1's
    for bad in ("fps=0", "fps=31", "fps=x"):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            site.client.websocket_connect(f"/api/live?{bad}") as ws,
        ):
            ws.receive_bytes()
        assert refused.value.code == 1008


def test_websocket_camera_filter(site: Site) -> None:
    with site.client.websocket_connect("/api/ws?camera=cam2&objects=false") as ws:
        site.state.hub.publish(EventMessage(event(T0, "cam1"), T0))
        site.state.hub.publish(objects_message("cam2"))  # objects not wanted
        wanted = event(T0 + 1, "cam2", "yard", "intrusion")
        site.state.hub.publish(EventMessage(wanted, T0 + 1))
        got = ws.receive_json()
        assert got["kind"] == "event" and got["id"] == wanted.id


def test_websocket_publish_from_another_thread(site: Site) -> None:
    with site.client.websocket_connect("/api/ws?camera=cam1") as ws:
        ev = event(T0, "cam1")
        threading.Timer(0.2, site.state.hub.publish, [EventMessage(ev, T0)]).start()
        assert ws.receive_json()["id"] == ev.id


def test_websocket_unknown_camera_is_refused(site: Site) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        site.client.websocket_connect("/api/ws?camera=nope") as ws,
    ):
        ws.receive_json()
    assert info.value.code == 1008
    assert not site.state.hub._subscriptions


# --------------------------------------------------------------------------- MJPEG


class PartReader:
    """Reads the parts of a multipart/x-mixed-replace body from a chunk iterator."""

    def __init__(self, chunks: Iterator[bytes], boundary: str) -> None:
        self.chunks = chunks
        self.buffer = b""
        self.marker = f"--{boundary}\r\n".encode()

    def read(self, n: int) -> list[tuple[dict[str, str], bytes]]:
        """The next `n` parts (fewer if the body ends first)."""
        parts: list[tuple[dict[str, str], bytes]] = []
        while len(parts) < n:
            part = self._parse()
            if part is not None:
                parts.append(part)
                continue
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        return parts

    def _parse(self) -> tuple[dict[str, str], bytes] | None:
        buffer, marker = self.buffer, self.marker
        if not buffer.startswith(marker):
            assert marker.startswith(buffer[: len(marker)]), buffer[:80]
            return None
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        lines = buffer[len(marker) : head_end].decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        body_end = head_end + 4 + int(headers["content-length"])
        if len(buffer) < body_end + 2:
            return None
        assert buffer[body_end : body_end + 2] == b"\r\n"
        self.buffer = buffer[body_end + 2 :]
        return headers, buffer[head_end + 4 : body_end]


def test_mjpeg_stream_parts(site: Site) -> None:
    frames = [jpeg(10), jpeg(240)]
    site.state.apply(LiveFrame("cam1", T0, frames[0]))
    threading.Timer(0.3, site.state.apply, [LiveFrame("cam1", T0 + 1, frames[1])]).start()
    with site.client.stream("GET", "/api/cameras/cam1/live.mjpeg?fps=20&frames=2") as r:
        assert r.status_code == 200
        content_type = r.headers["content-type"]
        match = re.fullmatch(r"multipart/x-mixed-replace; boundary=(\S+)", content_type)
        assert match, content_type
        parts = PartReader(r.iter_bytes(), match.group(1)).read(3)
    assert [body for _, body in parts] == frames  # ended after `frames=2`
    for headers, body in parts:
        assert headers["content-type"] == "image/jpeg"
        assert int(headers["content-length"]) == len(body)
    assert site.client.app.state.live_streams == 0  # type: ignore[attr-defined]


def test_mjpeg_ends_when_client_disconnects(tmp_path: Path) -> None:
    """Through a real uvicorn server: closing the connection ends the endless stream."""
    import uvicorn

    from uvicorn_thread import served

    with EventStore(":memory:") as store:
        state = ServiceState([CameraInfo.create("cam1", "rtsp://cam/1")], store, storage=tmp_path)
        state.apply(LiveFrame("cam1", T0, jpeg()))
        app = create_app(state, fast_auth(store))
        headers = bearer(user_token(app.state.auth, "viewer", "viewer"))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        with served(config) as (server, thread, port):
            url = f"http://127.0.0.1:{port}/api/cameras/cam1/live.mjpeg?fps=20"
            with httpx.Client(timeout=5, headers=headers) as client, client.stream("GET", url) as r:
                assert r.status_code == 200
                threading.Timer(0.2, state.apply, [LiveFrame("cam1", T0 + 1, jpeg(50))]).start()
                reader = PartReader(r.iter_raw(), "vigilframe")
                assert len(reader.read(2)) == 2
                time.sleep(0.2)
                assert app.state.live_streams == 1  # endless while the client reads
                state.apply(LiveFrame("cam1", T0 + 2, jpeg(60)))
                assert reader.read(1)[0][1] == jpeg(60)
            deadline = time.monotonic() + 5
            while app.state.live_streams and time.monotonic() < deadline:
                time.sleep(0.02)
            assert app.state.live_streams == 0

            # Stopping: `state.close()` ends the endless responses so the server can exit.
            with httpx.Client(timeout=5, headers=headers) as client, client.stream("GET", url) as r:
                reader = PartReader(r.iter_raw(), "vigilframe")
                assert len(reader.read(1)) == 1
                started = time.monotonic()
                state.close()
                server.should_exit = True
                assert len(reader.read(100)) < 100  # the body ends (else: 100 keepalives)
                thread.join(timeout=5)
                assert not thread.is_alive()
                assert time.monotonic() - started < 3


def test_close_ends_websockets(site: Site) -> None:
    from starlette.websockets import WebSocketDisconnect

    with site.client.websocket_connect("/api/ws") as ws:
        site.state.close()
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1001


# --------------------------------------------------------------------------- schema, robustness


def test_openapi_lists_every_route(site: Site) -> None:
    from fastapi.routing import APIRoute

    schema = site.client.get("/openapi.json").json()
    paths = schema["paths"]
    routes = {r.path for r in site.client.app.routes if isinstance(r, APIRoute)}  # type: ignore[attr-defined]
    assert routes <= set(paths)
    assert set(paths) >= {
        "/api/health",
        "/api/cameras",
        "/api/cameras/{camera_id}",
        "/api/cameras/{camera_id}/latest.jpg",
        "/api/cameras/{camera_id}/live.mjpeg",
        "/api/events",
        "/api/events/{event_id}",
        "/api/events/{event_id}/snapshot.jpg",
        "/api/events/{event_id}/clip.mp4",
        "/api/recordings",
        "/api/recordings/export",
        "/api/counts",
        "/metrics",
    }
    ok = paths["/api/events"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/EventPage"}
    assert "404" in paths["/api/cameras/{camera_id}"]["get"]["responses"]
    assert (
        "image/jpeg"
        in paths["/api/events/{event_id}/snapshot.jpg"]["get"]["responses"]["200"]["content"]
    )
    assert "video/mp4" in paths["/api/recordings/export"]["get"]["responses"]["200"]["content"]
    assert "/api/ws" in schema["info"]["description"]
    assert site.client.get("/docs").status_code == 200


def test_no_server_error_for_odd_input(site: Site, events: list[Event]) -> None:
    odd = [
        "",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "'; DROP TABLE events; --",
        "é" * 300,
        "-1",
        "1e308",
    ]
    paths = []
    for v in odd:
        paths += [
            f"/api/cameras/{v}",
            f"/api/cameras/{v}/latest.jpg",
            f"/api/events/{v}",
            f"/api/events/{v}/snapshot.jpg",
            f"/api/events/{v}/clip.mp4",
            f"/api/events?camera={v}&app={v}&type={v}&class_name={v}",
            f"/api/events?since={v}&until={v}&limit={v}&offset={v}",
            f"/api/recordings?camera={v}&start={v}&end={v}",
            f"/api/recordings?camera=cam1&start={v}",
            f"/api/recordings/export?camera=cam1&start={v}&end={v}",
            f"/api/counts?camera={v}&app={v}&interval={v}&since={v}&until={v}",
            f"/api/counts?since={v}",
            f"/api/cameras/cam1/live.mjpeg?fps={v}&frames={v}",
        ]
    paths += [
        "/api/events?since=-1e308&until=1e308",
        "/api/counts?since=0&interval=1",
        "/api/counts?since=1e308&interval=31622400",
        "/api/recordings?camera=cam1&start=-1e308&end=1e308",
        "/api/recordings?camera=cam1&start=253402300800",
    ]
    for path in paths:
        r = site.client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text)
    assert site.client.get("/api/nowhere").status_code == 404


def test_create_app_needs_no_server(site: Site) -> None:
    """The app is plain ASGI: it can be driven without uvicorn or a TestClient."""

    async def call() -> tuple[int, bytes]:
        transport = httpx.ASGITransport(app=site.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil") as client:
            r = await client.get("/api/health")
            return r.status_code, r.content

    code, body = asyncio.run(call())
    assert code == 200 and json.loads(body)["status"] in ("ok", "degraded")


def test_hub_is_shared(tmp_path: Path) -> None:
    hub = Hub()
    with EventStore(":memory:") as store:
        state = ServiceState([CameraInfo.create("a", "x")], store, hub=hub, storage=tmp_path)
    assert state.hub is hub
