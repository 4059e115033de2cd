"""The live grid with more cameras than a browser can hold MJPEG streams for: a real
`vigil serve` of five file cameras (the synthetic walker clip, the tiny ONNX model), whose
grid takes every camera's frames over one WebSocket (`/api/live`) instead.

A browser opens at most 6 HTTP/1.1 connections to a host; five endless MJPEG streams would
leave one for the API and the object WebSocket.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.test_serve_e2e import printed_url, start_service, stop_process
from web.dashboard import Dashboard, add_admin, screenshot

CAMERAS = [f"cam{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def five_cameras(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: Path, synthetic_clip: Path
) -> Iterator[Dashboard]:
    work = tmp_path_factory.mktemp("grid")
    cameras = "".join(
        f"  - {{id: {c}, url: {synthetic_clip}, loop: true, detect_fps: 2, record: {{mode: 'off'}}}}\n"
        for c in CAMERAS
    )
    (work / "site.yaml").write_text(
        "cameras:\n"
        + cameras
        + textwrap.dedent(
            """\
            detector: {input_size: [416, 320]}
            storage: {directory: data}
            server: {host: 127.0.0.1, port: 0}
            """
        )
    )
    add_admin(work, tiny_models)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, tiny_models)
    try:
        board = Dashboard(printed_url(process, stdout, log), work, log, process)
        admin = board.api("admin")
        board.wait(
            lambda: all(c["state"] == "online" for c in admin.get("/api/cameras").json()),
            60,
            "five cameras online",
        )
        admin.close()
        yield board
    finally:
        stop_process(process)


def test_grid_of_five_cameras_shares_one_websocket(browser: Any, five_cameras: Dashboard):
    browsing = five_cameras.login(browser, "admin")
    page = browsing.page
    http_frames: list[str] = []
    page.on(
        "request",
        lambda r: ("live.mjpeg" in r.url or "latest.jpg" in r.url) and http_frames.append(r.url),
    )
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto("/")
        page.wait_for_function(
            "n => [...document.querySelectorAll('img.live')].filter(i => i.naturalWidth > 0)"
            ".length === n",
            arg=len(CAMERAS),
            timeout=15_000,
        )
        # Every picture changes several times a second: count the new frames in 3 s.
        seen: dict[str, set[str]] = {c: set() for c in CAMERAS}
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            sources = page.eval_on_selector_all(
                "img.live", "imgs => imgs.map(i => [i.dataset.camera, i.getAttribute('src')])"
            )
            for camera, src in sources:
                assert src.startswith("blob:"), src
                seen[camera].add(src)
            time.sleep(0.05)
        frames = {c: len(s) for c, s in seen.items()}
        print(f"live frames shown per camera in 3 s: {frames}")
        assert all(n >= 6 for n in frames.values()), frames
        assert http_frames == []  # no MJPEG stream or still picture over HTTP
        assert sum("/api/live" in url for url in sockets) == 1, sockets
        # The API still answers at once: the grid holds no HTTP connection for good.
        started = time.monotonic()
        status = page.evaluate("() => fetch('/api/cameras').then(r => r.status)")
        assert status == 200 and time.monotonic() - started < 2.0
        screenshot(page, "live-grid-five")
    finally:
        browsing.close()
