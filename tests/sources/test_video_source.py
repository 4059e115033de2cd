"""VideoSource: frames, timestamps, looping and one-line errors, on small videos written here."""

from __future__ import annotations

import dataclasses
import itertools
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.errors import SourceError, VigilError
from vigil.sources import Frame
from vigil.sources.video import VideoSource, is_network_url

W, H = 64, 48


def grey(i: int) -> np.ndarray:
    return np.full((H, W, 3), (20 + 40 * i) % 240, np.uint8)


def write_video(path: Path, n: int = 5, fps: int = 10, codec: str = "libx264") -> Path:
    """`n` flat grey frames (20, 60, 100, …) at a constant `fps`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(grey(i), format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_timed_video(path: Path, pts_ms: list[int]) -> Path:
    """Frames presented at the given milliseconds (a variable frame rate, or a late start)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(grey(i), format="bgr24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


FORMATS = [("libx264", "mp4"), ("mpeg4", "avi"), ("mpeg4", "mp4"), ("libx264", "mkv")]


@pytest.mark.parametrize("codec, ext", FORMATS)
def test_frames_have_indices_and_stream_timestamps(tmp_path, codec, ext):
    path = write_video(tmp_path / f"clip.{ext}", n=5, codec=codec)
    source = VideoSource(path, "door")
    assert (source.width, source.height) == (W, H)
    assert source.fps == pytest.approx(10.0)
    assert source.codec == {"libx264": "h264", "mpeg4": "mpeg4"}[codec]
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.pts for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert all(f.source_id == "door" for f in frames)
    for i, f in enumerate(frames):
        assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
        assert (f.width, f.height) == (W, H)
        assert abs(float(f.image.mean()) - (20 + 40 * i)) < 10  # decoded in order (lossy codecs)


def test_frame_count_is_known_where_the_container_says_it(tmp_path):
    assert VideoSource(write_video(tmp_path / "a.mp4", n=7)).frame_count == 7
    assert VideoSource(write_video(tmp_path / "a.avi", n=7, codec="mpeg4")).frame_count == 7


def test_a_source_can_be_iterated_twice(tmp_path):
    source = VideoSource(write_video(tmp_path / "a.mp4", n=3))
    assert [f.pts for f in source] == [f.pts for f in source] == pytest.approx([0.0, 0.1, 0.2])


def test_timestamps_come_from_the_stream_not_the_frame_rate(tmp_path):
    path = write_timed_video(tmp_path / "vfr.mkv", [0, 100, 300, 400, 700])
    frames = list(VideoSource(path))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.pts for f in frames] == pytest.approx([0.0, 0.1, 0.3, 0.4, 0.7])


def test_timestamps_start_at_zero_when_the_stream_starts_later(tmp_path):
    path = write_timed_video(tmp_path / "late.mkv", [1500, 1600, 1700])
    assert [f.pts for f in VideoSource(path)] == pytest.approx([0.0, 0.1, 0.2])


@pytest.mark.parametrize("codec, ext", FORMATS[:2])
def test_loop_continues_index_and_pts_across_loops(tmp_path, codec, ext):
    source = VideoSource(write_video(tmp_path / f"clip.{ext}", n=3, codec=codec), loop=True)
    frames = list(itertools.islice(source, 10))
    assert [f.index for f in frames] == list(range(10))
    assert [f.pts for f in frames] == pytest.approx([i / 10 for i in range(10)])
    # the pictures repeat
    means = [round(float(f.image.mean()) / 40) for f in frames]
    assert means[:3] == means[3:6] == means[6:9]


def test_loop_of_a_variable_rate_stream_stays_monotonic(tmp_path):
    path = write_timed_video(tmp_path / "vfr.mkv", [0, 100, 300])
    frames = list(itertools.islice(VideoSource(path, loop=True), 9))
    # each loop starts one nominal frame (1 / 10 s) after the last frame of the previous one
    assert [f.pts for f in frames] == pytest.approx([0.0, 0.1, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9, 1.1])
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))


def test_frames_are_immutable():
    frame = Frame("cam1", 3, 0.3, np.zeros((2, 5, 3), np.uint8))
    assert (frame.width, frame.height) == (5, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.index = 4


# -- errors -----------------------------------------------------------------------------------


def one_line_error(url) -> str:
    with pytest.raises(SourceError) as info:
        VideoSource(url)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    assert isinstance(info.value, VigilError)
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.mp4"
    assert one_line_error(path) == f"video source not found: {path}"


def test_directory(tmp_path):
    assert one_line_error(tmp_path) == f"video source is a directory, not a file: {tmp_path}"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert one_line_error(path) == f"video source is empty: {path}"


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(b"this is not a video at all\n" * 200)
    message = one_line_error(path)
    assert message.startswith(f"cannot decode video {path}: ")
    assert "Invalid data" in message


def test_a_file_without_a_video_stream(tmp_path):
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert one_line_error(path) == f"no video stream in {path}"


def test_a_file_with_a_header_but_no_decodable_frames_fails_when_read(tmp_path):
    whole = write_video(tmp_path / "whole.mkv", n=5).read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(whole[: len(whole) // 2])
    source = VideoSource(path)  # the header is fine
    with pytest.raises(SourceError) as info:
        list(source)
    assert str(info.value) == f"no frames could be decoded from {path}"


def test_a_damaged_tail_ends_the_stream_after_the_good_frames(tmp_path):
    whole = write_video(tmp_path / "whole.mkv", n=5).read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(whole[:-50])
    frames = list(VideoSource(path))
    assert 1 <= len(frames) < 5
    assert [f.index for f in frames] == list(range(len(frames)))


def test_unreachable_rtsp_stream_fails_fast_with_one_line():
    started = time.monotonic()
    message = one_line_error("rtsp://127.0.0.1:9/x")
    assert time.monotonic() - started < 5
    assert message.startswith("cannot reach stream rtsp://127.0.0.1:9/x: ")
    assert "refused" in message.lower()


def test_network_urls_are_recognised():
    for url in (
        "rtsp://cam/1",
        "RTSP://cam/1",
        "rtsps://c/1",
        "http://h/v.mp4",
        "https://h/x",
        "srt://h:1",
    ):
        assert is_network_url(url), url
    for url in ("/videos/a.mp4", "a.mp4", "file:///a.mp4", "C:/videos/a.mp4"):
        assert not is_network_url(url), url
