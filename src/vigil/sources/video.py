"""PyAV video source: files and network streams (rtsp, http) decoded into `Frame`s."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import av
import numpy as np

from vigil.errors import SourceError
from vigil.sources.frame import Frame
from vigil.sources.hwaccel import AUTO_ORDER, SOFTWARE, HwAccelName, open_decoding

NETWORK_SCHEMES = {"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"}
OPEN_TIMEOUT_S = 10.0


def is_network_url(url: str) -> bool:
    return urlparse(url).scheme.lower() in NETWORK_SCHEMES


class VideoSource:
    """Decodes one video stream frame by frame.

    Each `Frame` carries its decode index and presentation time in seconds (from the stream's
    timestamps, or index / fps where a container has none). Opening checks the source at once,
    so a missing, empty, undecodable or unreachable source fails with one clear line.
    `hwaccel` decodes on a GPU where one works (`vigil.sources.hwaccel`); `decoder` says what
    decodes it, and a device refused at the first open is not tried again.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        source_id: str = "cam1",
        *,
        loop: bool = False,
        hwaccel: HwAccelName = "none",
    ):
        self.url = str(url)
        self.source_id = source_id
        self.loop = loop
        self.hwaccel: str = hwaccel  # once decided: the device that works, or "none"
        self.decoder = SOFTWARE
        self.is_network = is_network_url(self.url)
        if not self.is_network:
            path = Path(self.url)
            if not path.exists():
                raise SourceError(f"video source not found: {self.url}")
            if path.is_dir():
                raise SourceError(f"video source is a directory, not a file: {self.url}")
            if path.stat().st_size == 0:
                raise SourceError(f"video source is empty: {self.url}")
        container = self._open()
        stream = container.streams.video[0]
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else 25.0
        self.frame_count = stream.frames or None
        self.codec = stream.codec_context.name
        container.close()
        if not self.width or not self.height:
            raise SourceError(f"video source has no decodable picture size: {self.url}")

    def _open(self) -> av.container.InputContainer:
        options = {}
        if self.url.lower().startswith("rtsp"):
            options = {"rtsp_transport": "tcp", "timeout": str(int(OPEN_TIMEOUT_S * 1e6))}
        elif self.is_network:
            options = {"rw_timeout": str(int(OPEN_TIMEOUT_S * 1e6))}
        try:
            container, decoder = open_decoding(
                lambda accel: av.open(
                    self.url, options=options, timeout=OPEN_TIMEOUT_S, hwaccel=accel
                ),
                self.hwaccel,
            )
        except (av.FFmpegError, OSError) as exc:
            kind = "cannot reach stream" if self.is_network else "cannot decode video"
            raise SourceError(f"{kind} {self.url}: {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"no video stream in {self.url}")
        if self.hwaccel != "none":  # decided: later opens (the decoding passes) go straight on
            self.decoder = decoder
            self.hwaccel = decoder if decoder in AUTO_ORDER else "none"
        return container

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        offset = 0.0  # timeline offset added on each loop of a file
        while True:
            last_pts = offset
            for image, pts in self._decode_once():
                last_pts = offset + pts
                yield Frame(self.source_id, index, last_pts, image)
                index += 1
            if index == 0:
                raise SourceError(f"no frames could be decoded from {self.url}")
            if not self.loop or self.is_network:
                return
            offset = last_pts + 1.0 / self.fps

    def _decode_once(self) -> Iterator[tuple[np.ndarray, float]]:
        container = self._open()
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fallback_step = 1.0 / self.fps
        start: float | None = None
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.time is not None:
                    start = frame.time if start is None else start
                    pts = frame.time - start
                else:
                    pts = count * fallback_step
                count += 1
                yield frame.to_ndarray(format="bgr24"), pts
        except av.FFmpegError as exc:
            if count == 0:
                raise SourceError(f"cannot decode video {self.url}: {_reason(exc)}") from None
            # A damaged tail ends the stream; the frames before it were delivered.
        finally:
            container.close()


def spread_frames(urls: Sequence[str], count: int) -> Iterator[np.ndarray]:
    """About `count` BGR frames in all, spread evenly over each clip of `urls` (a stream, or a
    file without a frame count: its first ones), for calibrating a model on the user's video."""
    per_url = max(1, count // len(urls))
    for url in urls:
        source = VideoSource(url)
        step = max(1, (source.frame_count or per_url) // per_url)
        for frame in itertools.islice(source, 0, per_url * step, step):
            yield frame.image


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__
