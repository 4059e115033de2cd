"""A site for the API tests: a `ServiceState` with three cameras, a real event database, a
segment index and an exporter over small real MP4 files, and the app over them in a
TestClient (the `site` fixture); helpers to make statuses, events, frames and segments."""

from __future__ import annotations

import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from accounts import bearer, fast_auth, user_token
from vigil.api import deps as api_deps
from vigil.api.app import create_app
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.service.messages import (
    CameraStatus,
    FrameMetadata,
    SegmentInfo,
    TrackedObject,
)

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
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
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
    database.close()


def add_segment(site: Site, camera: str, start: float, end: float, **kw: Any) -> SegmentInfo:
    path = write_mp4(site.tmp / "data" / "recordings" / camera / f"{start:.0f}.mp4")
    info = SegmentInfo(camera, str(path), start, end, path.stat().st_size, **kw)
    site.index.segments.append(info)
    return info


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


def wait_for_job(site: Site, job_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        job = site.client.get(f"/api/recordings/exports/{job_id}").json()
        if job["state"] == state or time.monotonic() > deadline:
            assert job["state"] == state, job
            return job
        time.sleep(0.02)


def mp4_seconds(data: bytes, tmp: Path) -> float:
    import av

    path = tmp / "probe.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames / float(stream.average_rate or 10)


# --------------------------------------------------------------------------- WebSocket


def objects_message(camera: str, frame_index: int = 7) -> FrameMetadata:
    return FrameMetadata(
        camera, frame_index, 1.5, T0, 640, 480,
        [TrackedObject(3, 0, "person", 0.9, (1.0, 2.0, 30.0, 60.0))],
    )  # fmt: skip


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
