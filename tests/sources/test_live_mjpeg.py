"""LiveSource on an HTTP/MJPEG camera (tests/mjpeg_server.py: a real multipart stream over
HTTP on 127.0.0.1), a stream of garbage, and the reconnection backoff's cap."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from mjpeg_server import MjpegServer
from vigil.sources.items import DecodedFrame, Disconnected, Gap, StreamOpened
from vigil.sources.live import LiveSource


@pytest.fixture
def mjpeg() -> Iterator[MjpegServer]:
    server = MjpegServer(width=416, height=320, fps=15).start()
    try:
        yield server
    finally:
        server.stop()


def next_of(source: LiveSource, kind: type, timeout: float = 10.0):
    """The next item of type `kind` (others are skipped), with the time it was received."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = source.get(timeout=0.2)
        if isinstance(item, kind):
            return item, time.time()
    raise AssertionError(f"no {kind.__name__} within {timeout} s ({source.last_error})")


def test_reads_mjpeg_over_http_on_the_wall_clock(mjpeg: MjpegServer) -> None:
    with LiveSource(mjpeg.url, "door", read_timeout=2.0) as source:
        opened, _ = next_of(source, StreamOpened)
        assert (opened.codec, opened.width, opened.height) == ("mjpeg", 416, 320)
        assert opened.fps is None  # the stream declares no rate (FFmpeg would guess 25)
        frames: list[tuple[DecodedFrame, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            frames.append(next_of(source, DecodedFrame))
        assert source.state == "online"
    assert 20 <= len(frames) <= 35  # ~15 fps for 2 s
    for frame, received in frames:
        assert frame.image.shape == (320, 416, 3)
        # Timed on arrival: the demuxer's own timestamps (a 25 fps count) would fall
        # behind the real 15 fps by 0.4 s every second.
        assert received - 0.25 <= frame.wall_time <= received
    walls = [f.wall_time for f, _ in frames]
    assert walls == sorted(walls)
    span = walls[-1] - walls[0]
    assert span == pytest.approx((len(walls) - 1) / 15, rel=0.25)
    assert [f.index for f, _ in frames] == list(range(frames[0][0].index, frames[-1][0].index + 1))


def test_reconnects_when_the_http_server_comes_back(mjpeg: MjpegServer) -> None:
    with LiveSource(mjpeg.url, "door", read_timeout=1.0, backoff=(0.2, 1.0)) as source:
        first, _ = next_of(source, DecodedFrame)
        mjpeg.stop()
        stopped = time.time()
        lost, _ = next_of(source, Disconnected, timeout=5)
        assert lost.wall_time <= stopped + 0.5
        time.sleep(1.5)
        assert source.state == "reconnecting" and "connection refused" in str(source.last_error)
        mjpeg.start()
        restarted = time.monotonic()
        gap, _ = next_of(source, Gap, timeout=10)
        again, received = next_of(source, DecodedFrame)
        assert time.monotonic() - restarted < 3.0  # the backoff is at most 1 s here
        assert gap.duration >= 1.5 and gap.start_wall == lost.wall_time
        assert again.index > first.index and received - 0.25 <= again.wall_time <= received
        assert source.reconnects == 1 and source.state == "online"
        assert source.last_error is None  # back: the outage's error is not shown any more
    assert mjpeg.clients == 2


class GarbageMjpeg(MjpegServer):
    """A camera whose encoder is broken: well-formed multipart parts of random bytes."""

    def part(self, index: int) -> bytes:
        return np.random.default_rng(index).integers(0, 256, 4000, np.uint8).tobytes()


def test_a_stream_of_garbage_is_not_online_and_says_why() -> None:
    server = GarbageMjpeg(fps=15).start()
    try:
        with LiveSource(server.url, "door", read_timeout=1.0) as source:
            states, items = set(), []
            deadline = time.monotonic() + 10.0  # opening probes the stream for a while
            while time.monotonic() < deadline and source.last_error is None:
                items.append(source.get(timeout=0.1))
                states.add(source.state)
            for _ in range(10):  # and on, with the error reported
                items.append(source.get(timeout=0.1))
                states.add(source.state)
            assert source.packets_received > 10  # it was connected and receiving all along
            assert not [i for i in items if isinstance(i, DecodedFrame)]
            assert states == {"connecting"}, states
            assert "no picture decoded" in str(source.last_error), source.last_error
            assert server.url in str(source.last_error)
    finally:
        server.stop()


def test_reconnection_delay_is_capped_at_5_seconds() -> None:
    """A camera back after a long outage is picked up within ~5 s: attempts grow from 0.5 s
    by x1.5 to at most 5 s (the waits return at once here: the source is closed)."""
    source = LiveSource("http://127.0.0.1:9/video.mjpg")
    assert source.backoff == (0.5, 5.0)
    source.close()
    delays = [source.backoff[0]]
    for _ in range(10):
        delays.append(source._retry_wait(delays[-1]))
    assert delays[:4] == pytest.approx([0.5, 0.75, 1.125, 1.6875])
    assert max(delays) == delays[-1] == 5.0
