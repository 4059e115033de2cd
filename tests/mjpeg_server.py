"""An HTTP/MJPEG camera for the tests.

`MjpegServer` serves ``multipart/x-mixed-replace`` (what IP cameras and ``motion``-style
servers send: one JPEG per part) at ``/video.mjpg`` on 127.0.0.1, from a small threaded
`http.server`: a blue square crossing a grey frame, `fps` frames per second, paced by the
clock, to every client at once. `stop()` closes the listener and every open stream (a camera
switched off); `start()` serves again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np

BOUNDARY = "vigilframe"
PATH = "/video.mjpg"


def square_frame(
    index: int, width: int, height: int, fps: float, period: float = 4.0
) -> np.ndarray:
    """Frame `index`: a blue 80 px square crossing left to right every `period` seconds."""
    image = np.full((height, width, 3), 128, np.uint8)
    side = 80
    x = int((index / fps % period) / period * (width - side))
    y = (height - side) // 2
    image[y : y + side, x : x + side] = (255, 0, 0)  # BGR blue
    cv2.putText(image, str(index), (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    return image


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MjpegServer:
    """A multipart MJPEG stream over HTTP; `url`, `stop()`, `start()`, `frames_sent`."""

    def __init__(
        self, width: int = 416, height: int = 320, fps: float = 15.0, host: str = "127.0.0.1"
    ):
        self.width, self.height, self.fps = width, height, fps
        self.host = host
        self.port = _free_port(host)
        self.url = f"http://{host}:{self.port}{PATH}"
        self.frames_sent = 0
        self.clients = 0  # streams served so far
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._epoch = time.monotonic()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path != PATH:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                with server._lock:
                    server.clients += 1
                with contextlib.suppress(OSError):  # the client went away, or we stopped
                    server._stream(self.wfile)

        return Handler

    def _stream(self, out: Any) -> None:
        period = 1.0 / self.fps
        while self._running.is_set():
            index = int((time.monotonic() - self._epoch) / period)
            data = self.part(index)
            out.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
            out.flush()
            with self._lock:
                self.frames_sent += 1
            next_at = self._epoch + (index + 1) * period
            time.sleep(max(0.0, next_at - time.monotonic()))

    def part(self, index: int) -> bytes:
        """The body of part `index`: a JPEG of `square_frame`."""
        image = square_frame(index, self.width, self.height, self.fps)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        return jpeg.tobytes()

    def start(self) -> MjpegServer:
        assert self._httpd is None, "already running"
        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._httpd.daemon_threads = True
        self._running.set()
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every stream (clients see the connection close)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._running.clear()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        time.sleep(0.2)  # the streaming threads notice `_running` and close their sockets

    @property
    def running(self) -> bool:
        return self._httpd is not None
