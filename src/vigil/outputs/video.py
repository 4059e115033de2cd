"""Write annotated frames as a browser-streamable H.264 MP4 (PyAV / libx264)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from vigil.errors import VigilError

__all__ = [
    "ANALYSIS_ENCODING",
    "BackgroundVideoWriter",
    "Encoding",
    "VideoWriter",
    "TIME_BASE",
    "X264_PARAMS",
]

#: Timestamps are written in 1/90000 s (the MPEG clock): exact for 24/25/30/50/60 fps and
#: fine enough to keep a source's own presentation times.
TIME_BASE = Fraction(1, 90000)
#: x264 tuning on top of the preset. `subme=1` (the sub-pixel refinement of preset `superfast`)
#: while keeping `veryfast`'s other choices: on the annotated test clip (768x576, 795 frames)
#: it takes a quarter less encoding CPU for a 5 % larger file of the same quality (PSNR, SSIM),
#: where `superfast` at the same file size loses 0.6 dB (it drops macroblock-tree rate control).
#: `me=dia` (diamond motion search, as preset `ultrafast`; a fixed camera's motion is small):
#: on the annotated clip, 4 % less encoding CPU for a 0.4 % larger file (raw frames: an eighth
#: less, same size and PSNR). Not `partitions=none`: a sixth less CPU, but a 13 % larger
#: annotated video.
X264_PARAMS = "subme=1:me=dia"


@dataclass(frozen=True, slots=True)
class Encoding:
    """libx264 settings: a preset, the quality (CRF: lower is better and larger) and tuning on
    top of the preset."""

    preset: str = "veryfast"
    crf: float = 23
    x264_params: str = X264_PARAMS


#: The annotated video of `vigil run`, an analysis output encoded beside the analysis itself:
#: preset `ultrafast` with fixed B-frames (2), 8x8 transforms and the deblocking filter put
#: back, at the CRF that gives the default settings' PSNR. On the sample clip's annotated
#: frames (768x576, 795 frames, one thread) it takes 1.6 instead of 3.0 CPU-seconds, for the
#: same PSNR against the encoder's input (37.4 dB) and a 58 % larger file (9.7 instead of
#: 6.1 MB, 0.97 Mbit/s). B-frames make it both smaller (-11 %) and cheaper; 8x8 transforms and
#: deblocking each buy ~0.3 dB for a few % more CPU. The CPU-seconds the default settings
#: spend beyond these (CABAC, the macroblock tree and its look-ahead, adaptive quantisation,
#: sub-pixel motion) are what buys their smaller file.
ANALYSIS_ENCODING = Encoding(
    preset="ultrafast",
    crf=25.5,
    x264_params="bframes=2:b-adapt=0:8x8dct=1:partitions=i8x8:deblock=0,0",
)


class VideoWriter:
    """H.264 (libx264, yuv420p) in MP4 with `movflags=+faststart` (index first, so a browser
    can start playing before the whole file has loaded).

    `write(image, pts)` takes a BGR uint8 frame of `width` x `height` and its presentation
    time in seconds (default `frame number / fps`). Odd dimensions are padded by one
    replicated pixel to even (yuv420p needs even sizes). Timestamps must increase; a frame
    whose pts is not after the previous one is written one tick (1/90000 s) after it.
    Call `close()` (or use as a context manager) to flush the encoder and finish the file.

    `threads`: libx264's threads (0: its own choice, slice threads over every core); 1 for an
    encoder that runs alongside other work on threads of its own (see `BackgroundVideoWriter`).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        *,
        encoding: Encoding = Encoding(),
        keyframe_seconds: float | None = None,
        threads: int = 0,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if width <= 0 or height <= 0:
            raise ValueError(f"width and height must be > 0, got {width}x{height}")
        self.path = Path(path)
        self.fps = float(fps)
        self.width = int(width)
        self.height = int(height)
        self.encoded_width = self.width + self.width % 2
        self.encoded_height = self.height + self.height % 2
        self.frames = 0
        self._last_pts: int | None = None
        self._frame_ticks = max(1, round(1 / (self.fps * TIME_BASE)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(
                str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
        except (OSError, av.error.FFmpegError) as exc:
            raise VigilError(f"cannot write video {self.path}: {exc}") from None
        stream = self._container.add_stream(
            "libx264", rate=Fraction(self.fps).limit_denominator(100_000)
        )
        stream.width = self.encoded_width
        stream.height = self.encoded_height
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "preset": encoding.preset,
            "crf": f"{encoding.crf:g}",
            "x264-params": encoding.x264_params,
        }
        if keyframe_seconds:  # like a camera's GOP: recordings can only cut at keyframes
            stream.options["g"] = str(max(1, round(keyframe_seconds * self.fps)))
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.thread_count = threads
        self._stream: av.VideoStream | None = stream

    def write(self, image: np.ndarray, pts: float | None = None) -> None:
        """Encode one BGR frame shown at `pts` seconds (default: frames written so far / fps)."""
        self.check(image)
        if self.encoded_width != self.width or self.encoded_height != self.height:
            image = cv2.copyMakeBorder(
                image,
                0,
                self.encoded_height - self.height,
                0,
                self.encoded_width - self.width,
                cv2.BORDER_REPLICATE,
            )
        ticks = round(self.frames * self._frame_ticks if pts is None else pts / TIME_BASE)
        if self._last_pts is not None and ticks <= self._last_pts:
            ticks = self._last_pts + 1
        # OpenCV converts to the encoder's YUV 4:2:0 five times faster than libswscale (and
        # at least as faithfully). The frame wraps that array without a copy: libx264 copies
        # its input picture within `encode`.
        yuv = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
        frame = av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")
        frame.pts = ticks
        frame.time_base = TIME_BASE
        frame.duration = self._frame_ticks
        assert self._stream is not None  # `check` refused a closed writer
        self._mux(self._stream.encode(frame))
        self._last_pts = ticks
        self.frames += 1

    def check(self, image: np.ndarray) -> None:
        """Raise ValueError unless `image` can be written now."""
        if self._stream is None:
            raise ValueError(f"VideoWriter for {self.path} is closed")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"expected a BGR uint8 frame of {self.width}x{self.height}, "
                f"got {image.dtype} {image.shape}"
            )

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        try:
            self._mux(stream.encode(None))
        finally:
            self._container.close()

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self._container.mux(packet)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_CLOSE = object()


class BackgroundVideoWriter:
    """A `VideoWriter` that encodes on its own thread, so that H.264 encoding (the costliest
    output: about as much CPU as detection on a small model) overlaps with analysis instead
    of following it. libx264 and PyAV release the GIL while they encode.

    With `draw`, `write(image, pts, *overlay)` writes `draw(image, *overlay)`, drawn on the
    encoder's thread too (e.g. `Annotator.draw` with the frame's objects and counters).

    `write` checks the frame and queues it (blocking once `depth` frames wait, so a slow
    encoder holds back analysis instead of filling memory); the caller must not modify a
    frame (nor what `overlay` holds) after handing it over. `close` encodes every queued
    frame, then finishes the file,
    also after an error or an interrupt in the caller: the video holds every frame written.
    An encoding error is raised by the next `write` or by `close`.
    """

    def __init__(
        self,
        writer: VideoWriter,
        depth: int = 8,
        draw: Callable[..., np.ndarray] | None = None,
    ) -> None:
        self.writer = writer
        self.draw = draw
        self.path = writer.path
        self.frames = 0  # frames accepted; all are in the file once `close` returns
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._encode, name="vigil-encode", daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray, pts: float | None = None, *overlay: object) -> None:
        """Queue one BGR frame shown at `pts` seconds (see `VideoWriter.write`), with what
        `draw` puts on it."""
        self._raise_error()
        if self._closed:
            raise ValueError(f"VideoWriter for {self.path} is closed")
        self.writer.check(image)
        while self._thread.is_alive():  # never wait on an encoder that has stopped
            try:
                self._queue.put((image, pts, overlay), timeout=0.5)
                self.frames += 1
                return
            except queue.Full:
                continue
        self._raise_error()

    def close(self) -> None:
        """Encode what is queued and finish the file (idempotent)."""
        if not self._closed:
            self._closed = True
            while self._thread.is_alive():
                try:
                    self._queue.put(_CLOSE, timeout=0.5)
                    break
                except queue.Full:
                    continue
            self._thread.join()
        self._raise_error()

    def _encode(self) -> None:
        try:
            while (item := self._queue.get()) is not _CLOSE:
                image, pts, overlay = item
                self.writer.write(self.draw(image, *overlay) if self.draw else image, pts)
        except BaseException as exc:  # handed to the caller by write/close
            self._error = exc
        finally:
            try:
                self.writer.close()
            except BaseException as exc:
                self._error = self._error or exc

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> BackgroundVideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
