"""Pytest fixtures of the RTSP test server (registered by tests/conftest.py's pytest_plugins).

    def test_camera(rtsp_server):
        server = rtsp_server({"/cam1": dict(codec="h264", width=640, height=360, fps=15)})
        source = LiveSource(server.url("/cam1"))
        ...
        server.kill(); server.restart()

Tests that use them are skipped, with the reason, where Debian's /usr/bin/python3 cannot import
GStreamer's RTSP server (see `harness.DEBIAN_PACKAGES`), or lacks the encoder a mount needs
(x265enc for H.265).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rtsp.harness import RtspServer, unavailable_reason, write_clip

DEFAULT_MOUNTS: dict[str, dict[str, Any]] = {
    "/cam1": {"codec": "h264", "width": 640, "height": 360, "fps": 15}
}


def _codecs(mounts: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The encoders the mounts need (files are served as they are: H.264 parsing is enough)."""
    return {
        str(m.get("codec", "h264"))
        for m in mounts.values()
        if not str(m.get("source", "")).startswith("file:")
    } | {"h264"}


@pytest.fixture
def rtsp_server() -> Iterator[Callable[..., RtspServer]]:
    """A factory: `rtsp_server(mounts=None, port=None)` starts a server (default: one 640x360
    15 fps H.264 camera at /cam1) and returns its `RtspServer` (`.url(mount)`, `.kill()`,
    `.restart()`, `.pause()`, `.resume()`, `.stop()`); every server is stopped at teardown."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    servers: list[RtspServer] = []

    def start(
        mounts: Mapping[str, Mapping[str, Any]] | None = None, port: int | None = None
    ) -> RtspServer:
        mounts = mounts or DEFAULT_MOUNTS
        why = unavailable_reason(_codecs(mounts))
        if why:
            pytest.skip(why)
        server = RtspServer(mounts, port)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def rtsp_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`rtsp_clip(width=640, height=360, fps=15, seconds=4, codec="h264")`: the path of an
    Annex-B clip of a moving blue square (`harness.write_clip`), written once per session per
    set of arguments; serve it with `{"source": f"file:{path}"}`."""
    directory = tmp_path_factory.mktemp("rtsp-clips")
    made: dict[tuple[Any, ...], Path] = {}

    def make(
        width: int = 640,
        height: int = 360,
        fps: int = 15,
        seconds: float = 4.0,
        codec: str = "h264",
    ) -> Path:
        key = (width, height, fps, seconds, codec)
        if key not in made:
            suffix = ".h264" if codec == "h264" else ".h265"
            name = f"square-{width}x{height}-{fps}fps-{seconds:g}s{suffix}"
            made[key] = write_clip(directory / name, width, height, fps, seconds, codec)
        return made[key]

    return make
