"""Drive the test RTSP server (`rtsp_server.py`) from the project's Python: tests and benchmarks.

The server needs PyGObject with GStreamer's RTSP server, which Debian ships for its own
/usr/bin/python3 (packages `python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly`), not for the
virtual environment; so it runs as a child process. `VIGIL_GST_PYTHON` names another interpreter.

    server = RtspServer({"/cam1": {"codec": "h264", "width": 640, "height": 360, "fps": 15}})
    server.start()
    url = server.url("/cam1")       # rtsp://127.0.0.1:PORT/cam1
    server.kill()                   # SIGKILL: the camera "crashes"
    server.restart()                # the same port again
    server.stop()

No pytest here (benchmarks import it too); the fixtures live in `fixtures.py`.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

SCRIPT = Path(__file__).resolve().with_name("rtsp_server.py")
SYSTEM_PYTHON = os.environ.get("VIGIL_GST_PYTHON", "/usr/bin/python3")
HOST = "127.0.0.1"
#: Debian packages the server needs (apt-get install --no-install-recommends).
DEBIAN_PACKAGES = (
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly",
)
#: GStreamer elements the server uses, by the feature that needs them.
ELEMENTS = (
    "videotestsrc", "appsrc", "parsebin", "h264parse", "h265parse",
    "rtph264pay", "rtph265pay", "x264enc", "x265enc",
)  # fmt: skip

_PROBE = f"""
import json, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
print(json.dumps({{e: Gst.ElementFactory.find(e) is not None for e in {list(ELEMENTS)!r}}}))
"""


@functools.cache
def gstreamer_elements() -> dict[str, bool] | str:
    """Which of `ELEMENTS` the server's interpreter has, or why the server cannot run at all."""
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"{SYSTEM_PYTHON} cannot import GStreamer's RTSP server ({last}); "
            f"install the Debian packages {' '.join(DEBIAN_PACKAGES)}"
        )
    return json.loads(done.stdout)


def unavailable_reason(codecs: set[str] | frozenset[str] = frozenset({"h264"})) -> str | None:
    """None when the server can run and encode `codecs`, else a one-line reason."""
    elements = gstreamer_elements()
    if isinstance(elements, str):
        return elements
    base = ["videotestsrc", "appsrc", "parsebin"]
    need = {
        "h264": ["x264enc", "h264parse", "rtph264pay"],
        "h265": ["x265enc", "h265parse", "rtph265pay"],
    }
    missing = [e for e in base + [x for c in sorted(codecs) for x in need[c]] if not elements[e]]
    if missing:
        return f"GStreamer elements missing for the RTSP test server: {', '.join(missing)}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _spec(options: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()}
    )


class RtspServer:
    """One server process serving `mounts` ({"/cam1": {"codec": "h264", ...}}, see
    rtsp_server.py for the keys) on `port` (a free one by default) of 127.0.0.1."""

    def __init__(self, mounts: Mapping[str, Mapping[str, Any]], port: int | None = None):
        self.mounts = {path: dict(options) for path, options in mounts.items()}
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        fd, log = tempfile.mkstemp(prefix="rtsp-server-", suffix=".log")
        self._log = os.fdopen(fd, "wb")  # the server's stderr (GStreamer warnings, errors)
        self.log_path = Path(log)

    @property
    def command(self) -> list[str]:
        cmd = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port)]
        for path, options in self.mounts.items():
            cmd += ["--mount", f"{path}={_spec(options)}"]
        return cmd

    def url(self, mount: str = "/cam1") -> str:
        return f"rtsp://{HOST}:{self.port}/{mount.lstrip('/')}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> RtspServer:
        """Start the process and wait for its READY line (the port is listening)."""
        if self.running:
            return self
        deadline = time.monotonic() + timeout
        while True:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.PIPE, stderr=self._log, text=True,
                start_new_session=True,  # a Ctrl-C of the tests does not reach it first
            )  # fmt: skip
            assert self.process.stdout is not None
            ready, _, _ = select.select(
                [self.process.stdout], [], [], max(0.1, deadline - time.monotonic())
            )
            line = self.process.stdout.readline().strip() if ready else ""  # "" when it died
            if line == "READY":
                return self
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(
                    f"RTSP test server not ready after {timeout:g} s: {self.log_tail()}"
                )
            self.process.wait()
            error = self.log_tail()
            if "cannot listen" in error and time.monotonic() < deadline:
                time.sleep(0.2)  # the port of a killed server is not free yet
                continue
            raise RuntimeError(f"RTSP test server failed to start: {error or line}")

    def log_tail(self, lines: int = 5) -> str:
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def _signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: the server vanishes without closing its sessions (a crashed camera)."""
        self._signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets open but sends nothing (a hung camera)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (after SIGCONT, in case it was paused), then SIGKILL if it lingers."""
        if self.running:
            assert self.process is not None
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def restart(self, timeout: float = 15.0) -> RtspServer:
        self.stop()
        return self.start(timeout)

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait()
            if self.process.stdout:
                self.process.stdout.close()

    def close(self) -> None:
        self.stop()
        self._log.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- clips


def moving_square(i: int, width: int, height: int, fps: float) -> np.ndarray:
    """Frame `i` of the clip: a blue 80x80 square (the tiny test detector's "person") crossing
    a light grey ground left to right in 4 s, then again."""
    image = np.full((height, width, 3), 200, np.uint8)
    size = min(80, height // 2, width // 4)
    span = width - size
    x = int(span * ((i / (4 * fps)) % 1.0))
    y = (height - size) // 2
    image[y : y + size, x : x + size] = (255, 0, 0)
    return image


def write_clip(
    path: str | os.PathLike[str],
    width: int = 1280,
    height: int = 720,
    fps: int = 15,
    seconds: float = 4.0,
    codec: str = "h264",
    gop: int | None = None,
    bframes: int = 0,
) -> Path:
    """Encode `moving_square` frames with PyAV into `path`: a raw Annex-B elementary stream
    when it ends in .h264/.h265 (what `source=file:` loops without re-encoding), else any
    container PyAV infers from the suffix. Starts on a keyframe, one every `gop` frames
    (default 2 s), no B-frames (it loops cleanly); H.264 only: `bframes` non-reference
    B-frames between reference frames (a fixed pattern)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = {".h264": "h264", ".264": "h264", ".h265": "hevc", ".hevc": "hevc"}.get(path.suffix)
    encoder = {"h264": "libx264", "h265": "libx265"}[codec]
    gop = gop or 2 * fps
    with av.open(str(path), "w", format=raw) as container:
        stream = container.add_stream(encoder, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "h264":
            stream.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "g": str(gop),
                "bf": str(bframes),
                # every B-frame a non-reference one, in a fixed pattern
                "x264-params": "b-pyramid=none:b-adapt=0",
            }
        else:
            stream.options = {
                "preset": "ultrafast",
                "x265-params": f"keyint={gop}:min-keyint={gop}:bframes=0:repeat-headers=1:log-level=error",
            }
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(moving_square(i, width, height, fps), format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def transcode_clip(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str],
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
    seconds: float | None = None,
    bframes: int = 0,
) -> Path:
    """Re-encode any video PyAV reads (e.g. ../shared/data/vtest.avi, MPEG-4 part 2) into an
    H.264 clip the server can loop without re-encoding (Annex-B when `path` ends in .h264):
    scaled to `width` x `height` (default: as it is), every frame kept but stamped at `fps`
    (default: the source's rate, so 10 fps played at 15 runs 1.5x faster), at most `seconds`;
    `bframes` non-reference B-frames between reference frames (a fixed pattern)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = "h264" if path.suffix in (".h264", ".264") else None
    with av.open(str(source)) as src, av.open(str(path), "w", format=raw) as out:
        video = src.streams.video[0]
        rate = fps or round(float(video.guessed_rate or video.average_rate or 15))
        stream = out.add_stream("libx264", rate=rate)
        stream.width = width or video.codec_context.width
        stream.height = height or video.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "g": str(2 * rate),
            "bf": str(bframes),
            "x264-params": "b-pyramid=none:b-adapt=0",
            "crf": "23",
        }
        limit = None if seconds is None else round(seconds * rate)
        for i, frame in enumerate(src.decode(video)):
            if limit is not None and i >= limit:
                break
            frame = frame.reformat(stream.width, stream.height, "yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            if bframes:  # AV_PICTURE_TYPE_NONE: the source's I/P types would forbid B-frames
                frame.pict_type = 0
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path
