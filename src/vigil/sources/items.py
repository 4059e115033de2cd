"""What a `vigil.sources.live.LiveSource` yields, in arrival order (see its module docstring):
`StreamOpened`, then `Packet` and `DecodedFrame` items, `Disconnected` when the stream is lost
and `Gap` once it is back. Every item carries `wall_time`, the capture time in seconds since
the epoch; a `Packet`'s and a `DecodedFrame`'s ``run`` / ``index`` keep increasing across
reconnects and loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from av.video.stream import VideoStream

from vigil.sources.frame import Frame


@dataclass(slots=True, frozen=True)
class StreamOpened:
    """A connection (or a pass over a file) delivered its first keyframe; its packets follow.

    `stream` is a copy of the input video stream's codec parameters, detached from the
    connection (it stays valid after a reconnect): pass it to
    `OutputContainer.add_stream_from_template(stream)` to remux the packets that follow.
    Timestamps of those packets restart with each `StreamOpened`.
    """

    stream: VideoStream
    codec: str  # "h264", "hevc", "mjpeg", ...
    width: int
    height: int
    fps: float | None  # the stream's nominal rate, when it declares one
    wall_time: float
    run: int  # 1 for the first connection (or pass over a file), +1 for each reconnection/loop
    decoder: str = "software"  # `LiveSource.decoder`: "cuda", "vaapi", "software (why not)"


@dataclass(slots=True, frozen=True)
class Packet:
    """One demuxed video packet, as received (for recording without re-encoding).

    `packet.pts`/`dts` are in `packet.time_base`. Before muxing, set `packet.stream` to the
    output stream made from the current `StreamOpened.stream`.
    """

    packet: av.Packet
    wall_time: float  # capture time of this packet's picture (see the module doc)
    run: int  # the `StreamOpened.run` it belongs to

    @property
    def keyframe(self) -> bool:
        return bool(self.packet.is_keyframe)


@dataclass(slots=True, frozen=True)
class Disconnected:
    """The stream was lost at `wall_time` (the time of the last packet received)."""

    wall_time: float
    reason: str


@dataclass(slots=True, frozen=True)
class Gap:
    """The stream was lost from `start_wall` (last packet) to `end_wall` (first keyframe back)."""

    start_wall: float
    end_wall: float
    reason: str

    @property
    def duration(self) -> float:
        return self.end_wall - self.start_wall


class DecodedFrame:
    """A decoded picture, converted to pixels only when asked.

    `wall_time` is its capture time (also its `pts` on the live timeline); `index` counts the
    frames of the source, across reconnects and loops. `due` marks every `decode_every`-th
    frame, whose BGR image the reader thread already converted; `image` (or `to_frame()`)
    converts any other frame on demand, and `array()` gives other formats and sizes cheaply
    (e.g. a small grey picture for motion detection).
    """

    __slots__ = ("source_id", "index", "wall_time", "av_frame", "due", "_image")

    def __init__(
        self,
        source_id: str,
        index: int,
        wall_time: float,
        av_frame: av.VideoFrame,
        due: bool,
        image: np.ndarray | None = None,
    ):
        self.source_id = source_id
        self.index = index
        self.wall_time = wall_time
        self.av_frame = av_frame
        self.due = due
        self._image = image

    @property
    def pts(self) -> float:
        return self.wall_time

    @property
    def width(self) -> int:
        return int(self.av_frame.width)

    @property
    def height(self) -> int:
        return int(self.av_frame.height)

    @property
    def converted(self) -> bool:
        """Whether the BGR image is ready (no conversion cost to read `image`)."""
        return self._image is not None

    @property
    def image(self) -> np.ndarray:
        """The full-size BGR uint8 (H, W, 3) picture (converted once, then kept)."""
        if self._image is None:
            self._image = self.av_frame.to_ndarray(format="bgr24")
        return self._image

    def array(
        self, format: str = "bgr24", width: int | None = None, height: int | None = None
    ) -> np.ndarray:
        """The picture in another pixel `format` ("gray", "rgb24", ...) and/or size, converted
        and scaled in one step by swscale (not kept)."""
        return self.av_frame.to_ndarray(format=format, width=width, height=height)

    def to_frame(self) -> Frame:
        """The engine's `Frame`: pts and wall_time are both the capture time."""
        return Frame(self.source_id, self.index, self.wall_time, self.image, self.wall_time)

    def __repr__(self) -> str:
        return (
            f"DecodedFrame({self.source_id!r}, index={self.index}, "
            f"wall_time={self.wall_time:.3f}, {self.width}x{self.height}, due={self.due})"
        )


LiveItem = StreamOpened | Packet | DecodedFrame | Disconnected | Gap
