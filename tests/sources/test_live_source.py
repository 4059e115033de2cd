"""LiveSource against a real RTSP server (GStreamer, started by the tests) and local files.

The server tests are skipped, with the reason, where Debian's GStreamer RTSP server is not
installed (see tests/rtsp/harness.py); the clock, URL and file tests always run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from rtsp.harness import RtspServer, free_port, write_clip
from vigil.errors import SourceError
from vigil.sources import Frame
from vigil.sources.clocks import NetworkClock
from vigil.sources.items import DecodedFrame, Disconnected, Gap, LiveItem, Packet, StreamOpened
from vigil.sources.live import LiveSource
from vigil.sources.urls import redact_url

FPS = 15
SMALL = {"codec": "h264", "width": 320, "height": 240, "fps": FPS}
B_FRAME = 3  # AV_PICTURE_TYPE_B, what `av.VideoFrame.pict_type` says of a B-frame

StartServer = Callable[..., RtspServer]


def collect(
    source: LiveSource,
    seconds: float | None = None,
    frames: int | None = None,
    until: Callable[[LiveItem], bool] | None = None,
    limit: float = 20.0,
) -> list[LiveItem]:
    """Items until `seconds` after the first frame, `frames` frames, or `until(item)`."""
    items: list[LiveItem] = []
    first: float | None = None
    count = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        item = source.get(timeout=0.2)
        if item is None:
            if source.finished:
                break
            continue
        items.append(item)
        if isinstance(item, DecodedFrame):
            count += 1
            first = first or time.monotonic()
        if until is not None and until(item):
            return items
        if frames is not None and count >= frames:
            return items
        if seconds is not None and first is not None and time.monotonic() - first >= seconds:
            return items
    if until is not None or frames is not None:
        raise AssertionError(
            f"timed out after {limit} s; state {source.state}, {source.last_error}"
        )
    return items


def of(kind: type, items: list[LiveItem]) -> list:
    return [i for i in items if isinstance(i, kind)]


def fps(frames: list[DecodedFrame]) -> float:
    """Frames per second by their wall times."""
    return (len(frames) - 1) / (frames[-1].wall_time - frames[0].wall_time)


def remux(path: Path, template: av.video.stream.VideoStream, packets: list[Packet]) -> list[int]:
    """Mux `packets` into an MP4 made from `template`; return the indexes of the packets
    that do not decode back."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(template)
        for item in packets:
            item.packet.stream = stream
            out.mux(item.packet)
    bad = []
    with av.open(str(path)) as back:
        for i, packet in enumerate(back.demux(video=0)):
            try:
                packet.decode()
            except av.InvalidDataError:
                bad.append(i)
    return bad


# --------------------------------------------------------------------------- RTSP


def test_rtsp_tcp_frames_packets_and_wall_clock(rtsp_server: StartServer, tmp_path: Path) -> None:
    server = rtsp_server({"/cam1": SMALL})
    source = LiveSource(server.url("/cam1"), "door", transport="tcp", decode_every=3)
    try:
        items = collect(source, seconds=3.0)
        assert source.state == "online" and source.last_error is None
    finally:
        source.close()

    opened = items[0]
    assert isinstance(opened, StreamOpened), items[:3]
    assert (opened.codec, opened.width, opened.height, opened.run) == ("h264", 320, 240, 1)
    packets, frames = of(Packet, items), of(DecodedFrame, items)
    assert packets[0].keyframe and packets[0].packet.pts is not None
    assert all(p.packet.pts is not None and p.packet.dts is not None for p in packets)
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert len(keys) >= 2 and keys[1] - keys[0] == 2 * FPS  # the server's GOP: 2 s

    assert [f.index for f in frames] == list(range(len(frames)))
    walls = [f.wall_time for f in frames]
    assert all(b > a for a, b in zip(walls, walls[1:]))
    assert abs(walls[-1] - time.time()) < 2.0
    assert fps(frames) == pytest.approx(FPS, rel=0.10)
    assert fps(frames[:FPS]) == pytest.approx(FPS, rel=0.15)  # from the start: no probe burst
    assert len(frames) >= 3 * FPS * 0.8

    # pixels: every third frame converted by the reader, the others on demand
    assert [f.due for f in frames[:6]] == [True, False, False, True, False, False]
    assert frames[0].converted and not frames[1].converted
    frame = frames[1].to_frame()
    assert isinstance(frame, Frame) and frames[1].converted
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    assert frame.pts == frame.wall_time == frames[1].wall_time
    assert (frame.source_id, frame.index) == ("door", 1)
    assert frames[2].array("gray", 80, 60).shape == (60, 80)

    # the packets remux without re-encoding, with the template of a closed connection
    assert remux(tmp_path / "rec.mp4", opened.stream, packets) == []


@pytest.mark.parametrize("bframes", [1, 2])
def test_rtsp_b_frames_get_decode_times_that_increase(
    rtsp_server: StartServer, tmp_path: Path, bframes: int
) -> None:
    """Over RTSP, FFmpeg gives the first packets of a stream with B-frames a presentation
    time but no decode time, and the later ones the decode time that reordering implies
    (frames behind their presentation times). Filled in with the presentation time, a first
    packet's decode time was a later packet's, and the recording ended its segment at once
    ("decode time jumped"); decode times must rise and never pass presentation times."""
    clip = write_clip(tmp_path / "b.h264", 320, 240, FPS, 4.0, gop=2 * FPS, bframes=bframes)
    server = rtsp_server({"/cam1": {"source": f"file:{clip}", "fps": FPS}})
    source = LiveSource(server.url("/cam1"), "door", transport="tcp", decode_every=3)
    try:
        items = collect(source, seconds=3.0)
    finally:
        source.close()
    opened, packets = items[0], of(Packet, items)
    assert isinstance(opened, StreamOpened) and len(packets) > 2 * FPS
    dts = [p.packet.dts for p in packets]
    pts = [p.packet.pts for p in packets]
    assert all(b > a for a, b in zip(dts, dts[1:])), list(zip(pts, dts))[:6]
    assert all(d <= p for d, p in zip(dts, pts)), list(zip(pts, dts))[:6]
    assert remux(tmp_path / "rec.mp4", opened.stream, packets) == []


def test_rtsp_udp(rtsp_server: StartServer) -> None:
    server = rtsp_server({"/cam1": SMALL})
    with LiveSource(server.url("/cam1"), transport="udp") as source:
        items = collect(source, seconds=2.0)
    frames = of(DecodedFrame, items)
    assert isinstance(items[0], StreamOpened) and of(Packet, items)[0].keyframe
    assert fps(frames) == pytest.approx(FPS, rel=0.10)


def test_rtsp_h265(rtsp_server: StartServer) -> None:
    server = rtsp_server({"/cam1": {**SMALL, "codec": "h265"}})  # skips without x265enc
    with LiveSource(server.url("/cam1")) as source:
        items = collect(source, frames=20)
    assert isinstance(items[0], StreamOpened) and items[0].codec == "hevc"
    assert of(Packet, items)[0].keyframe
    assert of(DecodedFrame, items)[-1].image.shape == (240, 320, 3)


def test_server_killed_and_restarted_resumes_with_a_gap(
    rtsp_server: StartServer, tmp_path: Path
) -> None:
    server = rtsp_server({"/cam1": SMALL})
    source = LiveSource(server.url("/cam1"), read_timeout=2.0)
    try:
        before = collect(source, seconds=1.5)
        killed = time.time()
        server.kill()  # SIGKILL: no RTSP teardown
        lost = collect(source, until=lambda i: isinstance(i, Disconnected), limit=5)
        assert source.state == "reconnecting"
        time.sleep(max(0.0, killed + 3.0 - time.time()))
        assert source.state == "reconnecting" and "connection refused" in (source.last_error or "")
        server.restart()  # same port
        restarted = time.time()
        after = collect(source, frames=2 * FPS, limit=15)
        resumed = next(f.wall_time for f in of(DecodedFrame, after))
        assert (source.state, source.reconnects) == ("online", 1)
    finally:
        source.close()

    disconnected = of(Disconnected, lost)[0]
    last_before = of(Packet, before + lost)[-1].wall_time
    assert disconnected.wall_time == pytest.approx(last_before)
    assert disconnected.wall_time <= killed + 0.2

    gap, reopened = after[0], after[1]
    assert isinstance(gap, Gap) and isinstance(reopened, StreamOpened), after[:2]
    assert gap.start_wall == disconnected.wall_time and gap.reason == disconnected.reason
    assert restarted - 0.5 < gap.end_wall < restarted + 6.0  # back within seconds, by itself
    assert gap.duration > 2.5
    assert resumed - restarted < 6.0
    assert reopened.run == 2 and of(Packet, after)[0].keyframe and of(Packet, after)[0].run == 2

    indexes = [f.index for f in of(DecodedFrame, before + lost + after)]
    assert indexes == list(range(len(indexes)))  # the index continues across the reconnect
    walls = [f.wall_time for f in of(DecodedFrame, before + lost + after)]
    assert all(b > a for a, b in zip(walls, walls[1:]))

    # the first connection's template is still usable after that connection was closed
    first_run = [p for p in of(Packet, before + lost) if p.run == 1]
    # (a last packet cut short by the kill is rejected by the decoder, hence not yielded)
    assert remux(tmp_path / "run1.mp4", before[0].stream, first_run) == []


def test_stalled_server_trips_the_watchdog(rtsp_server: StartServer) -> None:
    server = rtsp_server({"/cam1": SMALL})
    source = LiveSource(server.url("/cam1"), read_timeout=1.0, backoff=(0.2, 1.0))
    try:
        collect(source, frames=5)
        server.pause()  # SIGSTOP: sockets stay open, nothing is sent
        paused = time.monotonic()
        lost = collect(source, until=lambda i: isinstance(i, Disconnected), limit=5)
        assert time.monotonic() - paused < 3.0
        assert "no data for 1 s" in of(Disconnected, lost)[0].reason
        time.sleep(1.5)  # a connection attempt also times out (the kernel accepts, no reply)
        error = source.last_error or ""
        assert source.state == "reconnecting" and "no response for 1 s" in error, error
        server.resume()
        after = collect(source, frames=5, limit=10)
        assert isinstance(after[0], Gap) and source.state == "online"
    finally:
        source.close()


def test_unreachable_at_start_keeps_retrying_and_closes_promptly() -> None:
    url = f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/cam1"
    source = LiveSource(url, backoff=(0.1, 0.3)).start()
    try:
        deadline = time.monotonic() + 5
        while source.connect_failures < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert source.state == "reconnecting"
        assert source.connect_failures >= 3  # it keeps trying
        error = source.last_error or ""
        assert "connection refused" in error and "127.0.0.1" in error
        assert "s3cret" not in error and "admin" not in error and "127.0.0.1" in error
        assert source.get(timeout=0.1) is None and not source.finished
    finally:
        start = time.monotonic()
        source.close()
        assert time.monotonic() - start < 1.0
    assert source.get(timeout=1) is None and source.finished and source.state == "closed"


def test_close_from_another_thread_ends_iteration(rtsp_server: StartServer) -> None:
    server = rtsp_server({"/cam1": SMALL})
    source = LiveSource(server.url("/cam1"))
    seen: list[LiveItem] = []
    done = threading.Event()

    def consume() -> None:
        seen.extend(source)  # blocks until closed
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    deadline = time.monotonic() + 10
    while not of(DecodedFrame, seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert of(DecodedFrame, seen)
    start = time.monotonic()
    source.close()
    assert done.wait(1.0) and time.monotonic() - start < 1.0
    assert source.state == "closed"


# --------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s at 20 fps, 160x120, raw Annex-B (no timestamps in the file at all)."""
    return write_clip(tmp_path_factory.mktemp("live") / "clip.h264", 160, 120, 20, 1.0)


def test_looping_realtime_file_paces_like_a_camera(clip: Path) -> None:
    with LiveSource(clip, "demo", loop=True, realtime=True) as source:
        start = time.monotonic()
        items = collect(source, frames=50)
        elapsed = time.monotonic() - start
    frames = of(DecodedFrame, items)
    assert 49 / elapsed == pytest.approx(20, rel=0.10)  # real time, across a loop
    assert [f.index for f in frames] == list(range(50))  # continues over the loop
    steps = np.diff([f.wall_time for f in frames])
    assert steps == pytest.approx(np.full(49, 1 / 20), abs=1e-6)  # the file's own timeline
    opened = of(StreamOpened, items)
    assert [o.run for o in opened] == [1, 2, 3]  # each pass restarts the packet timestamps
    assert not of(Gap, items) and not of(Disconnected, items)
    runs = [[p for p in of(Packet, items) if p.run == r] for r in (1, 2)]
    assert [p.packet.pts for p in runs[1]] == [p.packet.pts for p in runs[0]]
    assert all(r[0].keyframe for r in runs)


def test_file_not_realtime_reads_fast_and_ends(clip: Path) -> None:
    source = LiveSource(clip, realtime=False)
    start = time.monotonic()
    items = list(source)
    assert time.monotonic() - start < 2.0
    frames = of(DecodedFrame, items)
    assert len(frames) == 20 and source.state == "ended" and source.finished
    assert np.diff([f.wall_time for f in frames]) == pytest.approx(np.full(19, 0.05), abs=1e-6)
    assert list(source) == []
    source.close()


@pytest.mark.parametrize(
    ("bframes", "needed_fps", "decoded", "skipping"),
    [
        (1, 5.0, 31, True),  # I B P B ...: references at 7.5 fps, every B-frame skipped
        (0, 5.0, 60, True),  # no B-frames: nothing to skip, nothing lost
        (3, 5.0, None, False),  # references at 3.75 fps < 5: every frame decoded after 2 s
        (1, 10.0, 60, False),  # 15 fps is less than twice 10: no skipping at all
        (1, None, 60, False),
    ],
)
def test_needed_fps_skips_decoding_nonreference_frames(
    tmp_path: Path, bframes: int, needed_fps: float | None, decoded: int | None, skipping: bool
) -> None:
    clip = write_clip(tmp_path / "b.mp4", 160, 120, 15, 4.0, gop=60, bframes=bframes)
    with av.open(str(clip)) as container:
        b_frames = sum(f.pict_type == B_FRAME for f in container.decode(video=0))
    assert b_frames == {0: 0, 1: 29, 3: 44}[bframes], b_frames

    source = LiveSource(clip, "door", realtime=False, needed_fps=needed_fps)
    items = list(source)
    frames = of(DecodedFrame, items)
    assert len(of(Packet, items)) == 60  # recording gets every packet regardless
    assert source.skipping_nonref is skipping
    walls = [f.wall_time for f in frames]
    if bframes == 3:  # B-frames skipped in the first 2 s (30 packets), then every frame
        assert 60 - 44 < len(frames) < 60
        assert np.diff(walls[-20:]) == pytest.approx(np.full(19, 1 / 15), abs=1e-3)
    else:
        assert len(frames) == decoded
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(b > a for a, b in zip(walls, walls[1:]))  # presentation order kept


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video source not found"):
        LiveSource(tmp_path / "nope.mp4")
    with pytest.raises(SourceError, match="transport"):
        LiveSource("rtsp://127.0.0.1/x", transport="http")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers


def test_network_clock_removes_jitter_and_follows_jumps() -> None:
    clock = NetworkClock()
    t0 = 1_000.0
    jitter = [0.05, 0.0, 0.12, 0.01, 0.3, 0.02]
    walls = [clock.packet(i / 15, t0 + i / 15 + j) for i, j in enumerate(jitter)]
    # anchored on the fastest packet: even spacing, never later than the arrival
    assert walls[1:] == pytest.approx([t0 + i / 15 for i in range(1, 6)])
    assert all(w <= t0 + i / 15 + j for i, (w, j) in enumerate(zip(walls, jitter)))
    # the camera's timestamps jump back 100 s: re-anchored on the arrival
    assert clock.packet(6 / 15 - 100, t0 + 6 / 15) == pytest.approx(t0 + 6 / 15)
    assert clock.frame(None, 5.0) == 5.0


def test_redact_url() -> None:
    assert redact_url("rtsp://u:p@cam:554/s?x=1") == "rtsp://cam:554/s?x=1"
    assert redact_url("rtsp://cam/s") == "rtsp://cam/s"
