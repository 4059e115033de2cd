"""`vigil serve` and `vigil demo` end to end, as a user runs them: real processes, a real RTSP
server (GStreamer, tests/rtsp), a real mosquitto, HTTP on 127.0.0.1.

The site: two H.264 cameras on one RTSP test server (one pulled over TCP, one over UDP), each
serving a looped clip of a blue square crossing the frame every 4 s; the tiny blob detector
(conftest's `tiny_models`) sees the square as a person, so every camera's line-crossing app
fires every few seconds. Recording in 2 s segments (the clip's keyframe interval), MQTT on.

The serve tests share one `vigil serve` process (module fixture) and run in file order:
the end-to-end tour, the WebSocket, the RTSP server killed and restarted, a worker killed,
the detector killed, SIGTERM. Each also works alone (it waits for what it needs first).
Then tests with a process of their own: `vigil serve` SIGKILLed and started again, the API
port taken, `vigil demo`, and bad site configurations.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from accounts import site_admin_headers
from cli.cli_helpers import assert_one_line_error, invoke_vigil
from mqtt_broker import MosquittoBroker, find_mosquitto
from rtsp.harness import RtspServer, unavailable_reason, write_clip
from vigil.db.database import Database

CAMERAS = ("gate", "yard")  # gate: RTSP over TCP, yard: over UDP
SEGMENT_S = 2.0
STARTUP_S = 20.0  # process start to both cameras online
RECOVER_S = 20.0  # RTSP server back to camera online again (reconnect backoff included)


# --------------------------------------------------------------------------- helpers


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, every: float = 0.2, log: Any = None
) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and the service's
    log tail) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError, KeyError) as err:
            last_error = err
        if time.monotonic() > deadline:
            tail = log.tail() if log is not None else ""
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else "")
                + (f"\n--- service log tail\n{tail}" if tail else "")
            )
        time.sleep(every)


def video_frames(path: Path) -> tuple[str, int]:
    """(codec, decoded frames) of a video file; raises if it cannot be read to its end."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        frames = sum(1 for _ in container.decode(stream))
    return codec, frames


def assert_plays(path: Path) -> None:
    """`path` is a sound H.264 recording: every packet demuxes and decodes into one frame
    (the test clips have no B-frames), and there is at least one."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264", path
        packets = frames = 0
        for packet in container.demux(stream):
            if packet.size:
                packets += 1
            frames += len(packet.decode())  # the last, empty packet flushes the decoder
    assert packets > 0 and frames == packets, (path, packets, frames)


def metric(text: str, name: str, camera: str) -> float | None:
    match = re.search(rf'^{name}{{camera="{camera}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


class MqttListener:
    """A real paho client recording everything under `vigil/#`."""

    def __init__(self, host: str, port: int):
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{id(self)}")
        client.on_message = self._on_message
        client.on_subscribe = lambda *a: subscribed.set()
        client.on_connect = lambda c, *a: c.subscribe("vigil/#", qos=1)
        client.connect(host, port)
        client.loop_start()
        assert subscribed.wait(5), "MQTT listener could not subscribe"
        self.client = client

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), message.retain))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class WebSocket:
    """The smallest RFC 6455 client that reads text messages (no library needed)."""

    def __init__(
        self, url: str, path: str, timeout: float = 10.0, headers: dict[str, str] | None = None
    ):
        host, port = url.removeprefix("http://").split(":")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        self._buffer = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""

    @property
    def accepted(self) -> bool:
        return " 101 " in self.status_line + " "

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("WebSocket closed")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def receive(self) -> dict[str, Any]:
        """The next text message, as JSON."""
        while True:
            b0, b1 = self._read(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                raise ConnectionError("WebSocket closed by the server")
            if opcode == 9:  # the server's keepalive ping: without a pong it hangs up
                self._send(0xA, payload)

    def _send(self, opcode: int, payload: bytes) -> None:
        """One final frame of at most 125 bytes, masked as a client's must be."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.sock.close()


class ServiceLog:
    """The service's stderr, written to a file."""

    def __init__(self, path: Path):
        self.path = path

    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def detector_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"detector started \(pid (\d+)\)", self.text())]

    def worker_pids(self, camera: str) -> list[int]:
        """Pids of the camera's workers, in start order (the supervisor logs each start)."""
        pattern = rf"camera {re.escape(camera)}: worker started \(pid (\d+)\)"
        return [int(p) for p in re.findall(pattern, self.text())]


@dataclass
class Service:
    """A running `vigil serve` process and what it talks to."""

    process: subprocess.Popen[bytes]
    url: str
    data: Path
    log: ServiceLog
    stdout: Path
    rtsp: RtspServer
    broker: MosquittoBroker
    mqtt: MqttListener
    started: float
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.url + path, params=params)

    def states(self) -> dict[str, str]:
        return {c["id"]: c["state"] for c in self.get("/api/cameras").json()}

    def metric(self, name: str, camera: str) -> float:
        value = metric(self.get("/metrics").text, name, camera)
        assert value is not None, f"/metrics has no {name} for {camera}"
        return value

    def processed(self, camera: str) -> float:
        return self.metric("vigil_frames_processed_total", camera)

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        return wait_for(check, timeout, what, log=self.log)

    def wait_online(self, timeout: float, cameras: tuple[str, ...] = CAMERAS) -> None:
        self.wait(
            lambda: all(self.states().get(c) == "online" for c in cameras),
            timeout,
            f"cameras {', '.join(cameras)} online",
        )

    def recordings(self, camera: str, start: float, end: float | None = None) -> dict[str, Any]:
        end = time.time() + 5 if end is None else end
        response = self.get("/api/recordings", camera=camera, start=start, end=end)
        response.raise_for_status()
        return response.json()

    def segment_files(self, camera: str | None = None) -> list[Path]:
        root = self.data / "recordings"
        return sorted((root / camera if camera else root).rglob("*.mp4"))

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def admin_client(data: Path) -> httpx.Client:
    """A client acting as a new admin of the site whose storage directory is `data` (an
    API token in its database, made before or while the service runs)."""
    headers = site_admin_headers(f"sqlite:///{data / 'vigil.db'}")
    return httpx.Client(timeout=10.0, headers=headers)


def site_yaml(rtsp: RtspServer, broker: MosquittoBroker | None, data: Path) -> str:
    cameras = ""
    for camera, transport in zip(CAMERAS, ("tcp", "udp")):
        cameras += textwrap.dedent(
            f"""\
            - id: {camera}
              url: {rtsp.url("/" + camera)}
              transport: {transport}
              detect_fps: 5
              record: {{mode: continuous, segment_seconds: {SEGMENT_S:g}, pre_roll: 1, post_roll: 1}}
              lines:
                middle: {{start: [0.5, 0.05], end: [0.5, 0.95]}}
              apps:
                - {{type: line_crossing, name: crossings, settings: {{line: middle, classes: [person]}}}}
            """
        )
    return (
        "cameras:\n"
        + textwrap.indent(cameras, "  ")
        + textwrap.dedent(
            f"""\
            detector: {{input_size: [416, 320]}}   # the clip's size: the blob detector's 80 px
            storage: {{directory: {data}}}
            server: {{host: 127.0.0.1, port: 0}}
            """
        )
        + (
            f"mqtt: {{enabled: true, host: {broker.host}, port: {broker.port}, "
            "client_id: vigil-e2e}\n"
            if broker is not None
            else ""
        )
    )


def start_service(args: list[str], cwd: Path, models: Path, name: str = "vigil"):
    """Start `vigil ARGS` with stdout and stderr in files named after `name`; returns
    (process, stdout, log)."""
    full_env = dict(os.environ, VIGIL_MODELS=str(models), HOME=str(cwd), PYTHONUNBUFFERED="1")
    stdout, stderr = cwd / f"{name}.stdout.txt", cwd / f"{name}.stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli.main", *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    return process, stdout, ServiceLog(stderr)


def printed_url(
    process: subprocess.Popen[bytes], stdout: Path, log: ServiceLog, timeout: float = 30
) -> str:
    def url() -> str | None:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.tail()}")
        match = re.search(r"running at (http://127\.0\.0\.1:\d+)", stdout.read_text())
        return match.group(1) if match else None

    return wait_for(url, timeout, "the printed URL", log=log)


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, re.M)


def stop_process(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- the service


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
) -> Iterator[Service]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (Debian package `mosquitto`)")
    work = tmp_path_factory.mktemp("serve")
    clip = rtsp_clip(width=416, height=320, fps=15, seconds=4)
    rtsp = RtspServer({f"/{c}": {"source": f"file:{clip}"} for c in CAMERAS}).start()
    broker = MosquittoBroker(binary, tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    listener = MqttListener(broker.host, broker.port)
    data = work / "data"
    (work / "site.yaml").write_text(site_yaml(rtsp, broker, data))
    http = admin_client(data)
    started = time.monotonic()
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, tiny_models)
    try:
        url = printed_url(process, stdout, log)
        yield Service(process, url, data, log, stdout, rtsp, broker, listener, started, http)
    finally:
        stop_process(process)
        listener.close()
        broker.stop()
        rtsp.close()


def test_serve_end_to_end(service: Service, tmp_path: Path):
    # Both cameras online within ~20 s of the command starting.
    service.wait_online(STARTUP_S - (time.monotonic() - service.started))
    since = time.time() - 120
    cameras = service.get("/api/cameras").json()
    assert [c["id"] for c in cameras] == list(CAMERAS)
    assert all(c["up"] for c in cameras), cameras

    # Events of both cameras, each with a snapshot that decodes.
    def events(camera: str) -> list[dict[str, Any]]:
        return service.get("/api/events", camera=camera, type="line_crossing").json()["items"]

    for camera in CAMERAS:
        found = service.wait(lambda c=camera: events(c), 20, f"a line crossing on {camera}")
        event = found[0]
        assert event["app"] == "crossings" and event["class_name"] == "person"
        assert event["attributes"]["direction"] in ("in", "out")
        assert abs(event["start_time"] - time.time()) < 60  # wall clock
        snapshot = service.get(event["snapshot_url"])
        assert snapshot.status_code == 200, snapshot.text
        assert snapshot.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (320, 416, 3)

    # MQTT: events of both cameras; availability retained (a late subscriber gets it).
    for camera in CAMERAS:
        published = service.wait(
            lambda c=camera: service.mqtt.on(f"vigil/{c}/events"), 10, f"MQTT events of {camera}"
        )
        body = json.loads(published[0].payload)
        assert body["camera"] == camera and body["app"] == "crossings"
    late = MqttListener(service.broker.host, service.broker.port)
    try:
        for topic in ("vigil/availability", *(f"vigil/{c}/availability" for c in CAMERAS)):
            got = wait_for(lambda t=topic: late.on(t), 5, f"retained {topic}")
            assert got[0].retain and got[0].payload == b"online", (topic, got)
    finally:
        late.close()

    # Metrics: frames processed keep increasing, per camera.
    before = {c: service.processed(c) for c in CAMERAS}
    time.sleep(1.5)
    after = {c: service.processed(c) for c in CAMERAS}
    for camera in CAMERAS:
        assert after[camera] > before[camera] > 0, (before, after)

    # Recordings: indexed, and the files play (H.264, frames).
    for camera in CAMERAS:
        listing = service.wait(
            lambda c=camera: service.recordings(c, since)["segments"], 15, f"segments of {camera}"
        )
        assert all(s["duration_s"] > 0.5 for s in listing), listing
        files = service.segment_files(camera)
        assert files, f"no segment file of {camera}"
        assert_plays(files[0])

        # Export a range as one MP4 that plays.
        start, end = listing[0]["start_time"], listing[-1]["end_time"]
        exported = service.get("/api/recordings/export", camera=camera, start=start, end=end)
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"] == "video/mp4"
        path = tmp_path / f"{camera}.mp4"
        path.write_bytes(exported.content)
        codec, frames = video_frames(path)
        assert codec == "h264" and frames >= 15, frames


def test_serve_websocket_streams_objects(service: Service):
    service.wait_online(STARTUP_S)
    token = {"Authorization": service.http.headers["Authorization"]}
    ws = WebSocket(service.url, "/api/ws", headers=token)
    try:
        assert ws.accepted, ws.status_line
        deadline = time.monotonic() + 10
        seen: set[str] = set()
        while time.monotonic() < deadline and seen != set(CAMERAS):
            message = ws.receive()
            if message["kind"] == "objects":
                assert message["width"] == 416 and message["height"] == 320
                if any(o["class_name"] == "person" for o in message["objects"]):
                    seen.add(message["camera"])  # the blue square, tracked
        assert seen == set(CAMERAS)
    finally:
        ws.close()


def test_serve_rtsp_server_killed_and_restarted(service: Service):
    service.wait_online(STARTUP_S)
    since = time.time() - 120
    # A segment finished before the outage, so the gap has a left edge.
    for camera in CAMERAS:
        service.wait(lambda c=camera: service.recordings(c, since)["segments"], 15, "a segment")
    pids = {c: service.log.worker_pids(c) for c in CAMERAS}
    reconnects = {c: service.metric("vigil_reconnects_total", c) for c in CAMERAS}

    killed_at = time.time()
    service.rtsp.kill()
    seen_down: set[str] = set()

    def down() -> bool:
        seen_down.update(c for c, s in service.states().items() if s == "reconnecting")
        return seen_down == set(CAMERAS)

    service.wait(down, 8, "both cameras reconnecting")  # UDP: after the 5 s read timeout
    time.sleep(max(0.0, killed_at + 8 - time.time()))
    restarted_at = time.time()
    service.rtsp.start()
    service.wait_online(RECOVER_S)
    back_at = time.time()

    # Same workers: the cameras came back by themselves.
    assert {c: service.log.worker_pids(c) for c in CAMERAS} == pids
    # Logged when they went down and came back, not once a second in between.
    for camera in CAMERAS:
        text = service.log.text()
        assert len(re.findall(rf"camera {camera}: reconnecting: ", text)) <= 3, text
        assert re.search(rf"camera {camera}: online again after \d+ s", text), text
    for camera in CAMERAS:
        assert service.metric("vigil_reconnects_total", camera) > reconnects[camera]

    # The outage is a gap in the recording index; recording resumed after it.
    for camera in CAMERAS:
        listing = service.wait(
            lambda c=camera: (
                (r := service.recordings(c, since))["segments"]
                and r["segments"][-1]["start_time"] > restarted_at
                and r
            ),
            15,
            f"a segment of {camera} after the restart",
        )
        gaps = [g for g in listing["gaps"] if g["end"] < listing["segments"][-1]["start_time"] + 1]
        covering = [
            g for g in gaps if g["start"] <= killed_at + 1.0 and g["end"] >= restarted_at - 0.5
        ]
        assert covering, (camera, killed_at, restarted_at, back_at, listing["gaps"])
        # The segment open at the kill was finished with what had arrived: footage up to
        # the kill is kept, not lost with a broken file.
        assert covering[0]["start"] > killed_at - 1.0, (camera, killed_at, covering)

    # No corrupt segment: every finished file plays to its end.
    for path in service.segment_files():
        assert_plays(path)


def test_serve_worker_killed_is_restarted(service: Service):
    service.wait_online(STARTUP_S)
    victim, other = CAMERAS[1], CAMERAS[0]
    old_pid = service.log.worker_pids(victim)[-1]
    other_before = service.processed(other)
    victim_before = service.processed(victim)

    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    service.wait(
        lambda: re.search(rf"camera {victim}: worker exited", service.log.text()),
        5,
        "the supervisor to log the dead worker",
    )
    new_pid = service.wait(
        lambda: (
            service.log.worker_pids(victim)[-1] != old_pid and service.log.worker_pids(victim)[-1]
        ),
        10,
        f"a new worker for {victim}",
    )
    assert new_pid != old_pid
    assert re.search(rf"camera {victim}: restart in \d+ s", service.log.text())
    assert time.monotonic() - killed_at >= 0.9  # backoff: not restarted at once

    # The other camera never stopped; the victim comes back and its counter keeps counting.
    service.wait(lambda: service.processed(other) > other_before + 10, 10, f"{other} processing")
    assert service.states()[other] == "online"
    service.wait_online(RECOVER_S, (victim,))
    service.wait(lambda: service.processed(victim) > victim_before + 5, 10, f"{victim} processing")
    # The killed worker's open segment was recovered by its successor: the only journal
    # left is the one being written now.
    journals = list((service.data / "recordings" / victim).rglob("*.part"))
    assert len(journals) <= 1, journals


def test_serve_detector_killed_is_restarted(service: Service):
    service.wait_online(STARTUP_S)
    pids = service.log.detector_pids()
    assert pids, service.log.tail()
    before = {c: service.processed(c) for c in CAMERAS}
    os.kill(pids[-1], signal.SIGKILL)
    service.wait(lambda: len(service.log.detector_pids()) > len(pids), 15, "the detector restarted")
    assert "detector process died" in service.log.text()
    # Detection resumes on every camera by itself (the workers reconnect to the new process).
    for camera in CAMERAS:
        service.wait(
            lambda c=camera: service.processed(c) > before[c] + 10, 15, f"{camera} processing"
        )
    mark = {c: service.processed(c) for c in CAMERAS}
    time.sleep(2)
    assert all(service.processed(c) > mark[c] for c in CAMERAS)


def test_serve_sigterm_finalises_recordings(service: Service):
    service.wait_online(STARTUP_S)
    since = time.time() - 600
    for camera in CAMERAS:
        service.wait(lambda c=camera: service.recordings(c, since)["segments"], 15, "a segment")
    time.sleep(1.0)  # into the middle of a segment: the stop must finish the open one
    stopped_at = time.time()
    service.process.send_signal(signal.SIGTERM)
    try:
        code = service.process.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vigil serve still running 10 s after SIGTERM:\n{service.log.tail()}")
    assert code == 0, service.log.tail()
    recordings = service.data / "recordings"
    leftovers = [p for p in recordings.rglob("*") if p.suffix in (".part", ".tmp")]
    assert not leftovers, leftovers

    # Every file is indexed, every row is a file, and the last segments reach the stop.
    from vigil.recording.index import SegmentIndex

    with Database(f"sqlite:///{service.data / 'vigil.db'}") as database:
        index = SegmentIndex(database)
        for camera in CAMERAS:
            rows = index.between(camera, since, stopped_at + 60)
            files = {str(p) for p in service.segment_files(camera)}
            assert {r.path for r in rows} == files
            assert rows[-1].end_time > stopped_at - SEGMENT_S, (camera, rows[-1], stopped_at)
    for path in service.segment_files():
        assert_plays(path)


def test_serve_port_in_use_is_one_error_and_exit_2(tmp_path: Path, tiny_models: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "site.yaml").write_text(
            "cameras:\n  - {id: cam1, url: rtsp://127.0.0.1:9/x}\n"
            f"storage: {{directory: data}}\nserver: {{port: {port}}}\n"
        )
        process, _, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vigil serve still running with its port taken:\n{log.tail()}")
        finally:
            stop_process(process, signal.SIGKILL)
    assert code == 2, log.tail()
    # Checked first: no database migration, detector or uvicorn line before the error.
    assert log.text().strip().splitlines() == [
        f"vigil: error: the API cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_serve_killed_hard_leaves_no_orphans_and_loses_no_footage(
    service: Service, tmp_path: Path, tiny_models: Path
):
    """`vigil serve` SIGKILLed (the OOM killer): its workers and detector do not live on,
    holding the cameras and writing files nobody indexes; the next start indexes all that
    was recorded."""
    if not service.rtsp.running:
        service.rtsp.start()
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(site_yaml(service.rtsp, None, data))
    http = admin_client(data)
    args = ["serve", "-c", "site.yaml"]
    process, stdout, log = start_service(args, tmp_path, tiny_models, "first")
    try:
        url = printed_url(process, stdout, log)
        first = Service(process, url, data, log, stdout, service.rtsp, service.broker,
                        service.mqtt, time.monotonic(), http)  # fmt: skip
        first.wait_online(STARTUP_S)
        for camera in CAMERAS:
            first.wait(lambda c=camera: first.segment_files(c), 15, f"a segment of {camera}")
        time.sleep(1.0)  # into the middle of a segment
        children = [log.worker_pids(c)[-1] for c in CAMERAS] + log.detector_pids()[-1:]
        process.kill()
        process.wait()
        wait_for(
            lambda: not any(running(pid) for pid in children),
            10,
            "the workers and the detector of a killed supervisor to exit",
            log=log,
        )
    finally:
        stop_process(process, signal.SIGKILL)
    left = set(first.segment_files())
    journals = {p.with_name(p.name.removesuffix(".part")) for p in data.rglob("*.mp4.part")}

    process, stdout, log = start_service(args, tmp_path, tiny_models, "second")
    try:
        url = printed_url(process, stdout, log)
        second = Service(process, url, data, log, stdout, service.rtsp, service.broker,
                         service.mqtt, time.monotonic(), http)  # fmt: skip
        second.wait_online(STARTUP_S)  # the recovery runs before the cameras start
        from vigil.recording.index import SegmentIndex

        with Database(f"sqlite:///{data / 'vigil.db'}") as database:
            index = SegmentIndex(database)
            indexed = {Path(r.path) for c in CAMERAS for r in index.between(c, 0, 1e10)}
        assert left | journals <= indexed, (left | journals) - indexed
        for path in left | journals:
            assert_plays(path)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log.tail()
    finally:
        stop_process(process, signal.SIGKILL)


# --------------------------------------------------------------------------- vigil demo


def test_demo_prints_where_things_are_and_stops_on_ctrl_c(tmp_path: Path, tiny_models: Path):
    # The demo's camera: an H.264 MP4 (recorded as it is; vtest.avi would be transcoded first,
    # which takes longer than this whole test).
    clip = write_clip(tmp_path / "clip.mp4", 416, 320, 15, 4)
    process, stdout, log = start_service(
        ["demo", str(clip), "--port", "0", "--data", "tmp"], tmp_path, tiny_models
    )
    try:
        url = printed_url(process, stdout, log)
        text = stdout.read_text()
        assert f"recordings: {tmp_path / 'tmp' / 'recordings'}" in text
        assert f"database:   sqlite:///{tmp_path / 'tmp' / 'vigil.db'}" in text
        http = httpx.Client(timeout=5)
        wait_for(lambda: http.get(url + "/api/health").json()["ok"], 30, "health ok", log=log)
        port = url.rsplit(":", 1)[1]
        assert (  # a new site has no accounts: how to make the first one
            f"no accounts yet: open http://127.0.0.1:{port}/setup from this machine or run "
            f"`vigil users add NAME --admin -c {tmp_path / 'tmp' / 'site.yaml'}`" in log.text()
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0, log.tail()
    finally:
        stop_process(process)


# --------------------------------------------------------------------------- bad site configs


GOOD_CAMERA = "  - {id: cam1, url: rtsp://127.0.0.1:9/x}\n"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("cameras: []\n", ["site.yaml", "cameras"]),
        ("storage: {directory: x}\n", ["site.yaml", "cameras"]),
        ("cameras:\n" + GOOD_CAMERA * 2, ["site.yaml", "cameras[1].id", "duplicate", "cam1"]),
        (
            "cameras:\n  - id: cam1\n    url: rtsp://127.0.0.1:9/x\n"
            "    lines: {door: {start: [0.1, 0.5], end: [0.9, 0.5]}}\n"
            "    apps: [{type: line_crossing, settings: {line: door, clases: [person]}}]\n",
            ["site.yaml", "cameras[0].apps[0].settings", "clases"],
        ),
        (
            "cameras:\n  - {id: front-door, url: x}\n  - {id: Front_Door, url: y}\n",
            ["site.yaml", "cameras[1].id", "'Front_Door'", "'front-door'", "'front_door'"],
        ),
        ("cameras:\n" + GOOD_CAMERA + "colour: red\n", ["site.yaml", "colour"]),
        ("cameras:\n  - {id: cam1, url: x, colour: red}\n", ["site.yaml", "cameras[0].colour"]),
    ],
    ids=[
        "no-camera",
        "cameras-missing",
        "duplicate-id",
        "bad-app-setting",
        "ids-sharing-mqtt-topics",
        "unknown-key",
        "unknown-camera-key",
    ],  # fmt: skip
)
def test_serve_bad_site_config(tmp_path: Path, tiny_models: Path, text: str, fragments: list[str]):
    (tmp_path / "site.yaml").write_text(text)
    result = invoke_vigil("serve", "-c", "site.yaml", cwd=tmp_path, models=tiny_models)
    assert_one_line_error(result, *fragments)
