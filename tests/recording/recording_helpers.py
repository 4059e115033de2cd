"""Helpers of the recording tests: real H.264/H.265 streams encoded with PyAV, probes."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

FPS = 10
GOP_SECONDS = 2
SECONDS = 25
WIDTH, HEIGHT = 320, 240
#: Wall-clock time of the first frame of every synthetic stream (2023-11-14T22:13:20Z).
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Clip:
    path: Path
    codec: str  # "h264" / "hevc"
    frames: int = SECONDS * FPS


def encode_clip(
    path: Path,
    *,
    codec: str = "libx264",
    container_format: str | None = None,
    seconds: int = SECONDS,
    bframes: int = 0,
) -> Path:
    """`seconds` of 320x240 frames at 10 fps, a keyframe every 2 s (and nowhere else)."""
    keyint = GOP_SECONDS * FPS
    out = av.open(str(path), "w", format=container_format)
    stream = out.add_stream(codec, rate=FPS)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes={bframes}"
    if codec == "libx265":
        stream.options = {"x265-params": params + ":log-level=error", "preset": "ultrafast"}
    else:
        stream.options = {"x264-params": params, "preset": "veryfast"}
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    for i in range(seconds * FPS):
        image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        image[..., 0] = (x + 3 * i) % 256
        image[..., 1] = (y * 2 + i) % 256
        image[..., 2] = 128
        top, left = (i * 4) % (HEIGHT - 30), (i * 7) % (WIDTH - 30)
        image[top : top + 30, left : left + 30] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def packets(path: Path) -> Iterator[tuple[av.Packet, float]]:
    """(packet, wall time) of each packet of the clip, in decode order: the wall time of
    the n-th packet is T0 + n / FPS (all clips are 10 fps, one packet per frame)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            yield packet, T0 + n / FPS
            n += 1


def open_stream(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    container = av.open(str(path))
    return container, container.streams.video[0]


def decoded_frames(path: Path | str) -> int:
    """Frames PyAV decodes from the file (raises on a broken file)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def ffprobe(path: Path | str) -> dict | None:
    """ffprobe's view of the file's video stream (frames counted by decoding), or None when
    ffprobe is not installed. Fails the test on any ffprobe error output."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    result = subprocess.run(
        [exe, "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,codec_tag_string,nb_read_frames,duration,"
         "start_time,width,height:format=duration,format_name",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    data = json.loads(result.stdout)
    stream = data["streams"][0]
    return {**stream, "format": data["format"]}


def moov_before_mdat(path: Path | str) -> bool:
    """Whether the MP4's index comes before its media data (faststart)."""
    data = Path(path).read_bytes()
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    return 0 <= moov < mdat
