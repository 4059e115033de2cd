"""Recorded footage served masked: decode -> mask with the stored boxes -> encode H.264.

Recordings stay untouched on disk (remuxed, never re-encoded). A principal the camera's
policy serves masked footage (`vigil.api.privacy.privacy_view`) gets a copy made here from
the segments of a time range: each decoded frame is masked where the tracked objects of the
policy's classes were at that moment (`vigil.privacy.boxes`, interpolated between analysed
frames) and where the static polygons are, then encoded again (libx264, one pass, no
B-frames). A moment the stored boxes do not cover (no ``.boxes`` file, analysis down) is
masked whole: a gap in analysis never serves a person unmasked.

A subject-access export keeps one track visible (`MaskRequest.keep_track`), and the
untracked boxes lying mostly on it (weaker duplicates of the subject), and masks every other
object of the policy's classes (people at least).

Frames with nothing to mask go from the decoder to the encoder as they are; the others are
masked in their own Y, U, V planes (`mask_planes`), where only the masked regions are
touched. `masked_copy` writes a file (exports); `masked_stream` yields a fragmented MP4 as
it is encoded (playback: the first bytes go out after the first frame, not the last).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.video.frame import PictureType, VideoFrame
from av.video.plane import VideoPlane

from vigil.config.privacy import PrivacySettings
from vigil.privacy.boxes import BoxTrack, read_boxes
from vigil.privacy.masking import mask_frame, mask_planes, static_mask

__all__ = [
    "ENCODER",
    "MaskRequest",
    "Reencoded",
    "Span",
    "frame_at",
    "mask_frame",
    "masked_copy",
    "masked_stream",
    "static_mask",
]

#: libx264 as it is fast enough to serve a 10 s 720p segment in well under 2 s on a small
#: CPU: the fastest preset, no B-frames (frames go out in the order they come in).
ENCODER = {"preset": "ultrafast", "crf": "23", "bf": "0"}
_TIME_BASE = Fraction(1, 90000)
_PLANAR_420 = ("yuv420p", "yuvj420p")  # masked in their own planes
_SUBJECT_CLASSES = ("person",)
_SUBJECT_SHARE = 0.7  # an untracked box this much inside the subject's is the subject  # masked in a subject-access export whatever the policy


# ------------------------------------------------------------------ the copy


@dataclass(frozen=True)
class Span:
    """The part [begin, end) (wall clock) of the segment at `path`, which starts (media
    time 0) at `start_time`."""

    path: Path
    start_time: float
    begin: float
    end: float


@dataclass(frozen=True)
class MaskRequest:
    """What to mask: the policy's tracked classes when `mask_objects` (or, with
    `keep_track`, every object of those classes and people but that track), and always the
    static polygons."""

    settings: PrivacySettings
    mask_objects: bool = True
    keep_track: int | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        masked = tuple(self.settings.mask) if self.mask_objects else ()
        if self.keep_track is not None:
            masked += tuple(c for c in _SUBJECT_CLASSES if c not in masked)
        return masked


@dataclass(frozen=True)
class Reencoded:
    path: Path
    frames: int
    masked_frames: int  # frames in which something was masked
    whole_frames: int  # frames masked whole: no stored boxes covered them


def masked_copy(
    spans: Sequence[Span],
    out_path: str | os.PathLike[str],
    request: MaskRequest,
    progress: Callable[[float], None] | None = None,
) -> Reencoded:
    """Write the frames of `spans`, in order, masked per `request`, to `out_path` as one
    faststart MP4 (H.264). Raises `LookupError` when no frame falls in the spans."""
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    encoder: _Encoder | None = None
    counts = _Counts()
    try:
        for frame, wall in _masked_frames(spans, request, counts, progress):
            if encoder is None:
                encoder = _Encoder(tmp, frame, _rate_of(spans[0].path))
            encoder.write(frame, wall)
        if encoder is None:
            raise LookupError("no recorded frames in that range")
        encoder.close()
        os.replace(tmp, out_path)
    except BaseException:
        if encoder is not None:
            encoder.abandon()
        tmp.unlink(missing_ok=True)
        raise
    return Reencoded(out_path, counts.frames, counts.masked, counts.whole)


def masked_stream(
    spans: Sequence[Span], request: MaskRequest, keep: str | os.PathLike[str] | None = None
) -> Iterator[bytes]:
    """The frames of `spans` masked per `request` as a fragmented MP4 (H.264, a fragment per
    second), yielded as it is encoded: a browser plays it while the rest is made. With
    `keep`, the whole stream is also written there once complete (a client that goes away
    leaves nothing). Raises `LookupError`, before yielding anything, when no frame falls in
    the spans."""
    sink = _Chunks()
    encoder: _Encoder | None = None
    target = None if keep is None else Path(keep)
    copy, tmp = None, None
    if target is not None:  # a name of its own: two first requests may stream at once
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        copy, tmp = os.fdopen(fd, "wb"), Path(name)
    try:
        for frame, wall in _masked_frames(spans, request, _Counts()):
            if encoder is None:
                encoder = _Encoder(sink, frame, _rate_of(spans[0].path), fragmented=True)
            encoder.write(frame, wall)
            if sink.pending:
                yield sink.take(copy)
        if encoder is None:
            raise LookupError("no recorded frames in that range")
        encoder.close()
        encoder = None
        yield sink.take(copy)
        if copy is not None and tmp is not None and target is not None:
            copy.close()
            os.replace(tmp, target)
    finally:
        if encoder is not None:
            encoder.abandon()
        if copy is not None and tmp is not None:
            copy.close()
            tmp.unlink(missing_ok=True)


@dataclass
class _Counts:
    frames: int = 0
    masked: int = 0  # frames in which something was masked
    whole: int = 0  # frames masked whole: no stored boxes covered them


def _masked_frames(
    spans: Sequence[Span],
    request: MaskRequest,
    counts: _Counts,
    progress: Callable[[float], None] | None = None,
) -> Iterator[tuple[VideoFrame, float]]:
    """The frames of `spans`, in order, masked per `request`, with their wall-clock times."""
    for n, span in enumerate(spans):
        masker = _Masker(request, read_boxes(span.path))
        for frame, t in _frames(span):
            masked, kind = masker.apply(frame, t)
            counts.frames += 1
            counts.masked += kind != "none"
            counts.whole += kind == "whole"
            yield masked, span.start_time + t
        if progress is not None:
            progress((n + 1) / len(spans))


class _Chunks:
    """A write-only, unseekable file for the muxer: what it wrote since the last `take`."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def write(self, data: bytes) -> int:
        self.pending += data
        return len(data)

    def take(self, copy: BinaryIO | None) -> bytes:
        data = bytes(self.pending)
        self.pending.clear()
        if copy is not None:
            copy.write(data)
        return data


def _frames(span: Span) -> Iterator[tuple[VideoFrame, float]]:
    """The decoded frames of the span with their time from the segment's start."""
    with av.open(os.fspath(span.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or 25)
        for index, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else index / rate
            wall = span.start_time + t
            if wall >= span.end:
                break
            if wall >= span.begin:
                yield frame, t


def frame_at(path: str | os.PathLike[str], t: float, request: MaskRequest | None) -> np.ndarray:
    """The picture of the segment at `path` shown at `t` seconds from its start (the last
    frame at or before `t`; the first one before it), BGR, masked per `request` as
    `masked_copy` masks it (None: as recorded). Decodes from the keyframe before `t`.
    Raises `LookupError` when the segment has no frame."""
    path = Path(path)
    shown: tuple[VideoFrame, float] | None = None
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        if t > 0 and stream.time_base:
            container.seek(int(t / stream.time_base), stream=stream, backward=True)
        rate = float(stream.average_rate or 25)
        for index, frame in enumerate(container.decode(stream)):
            at = frame.time if frame.time is not None else index / rate
            if at > t and shown is not None:
                break
            shown = frame, at
    if shown is None:
        raise LookupError(f"{path.name}: no frame")
    frame, at = shown
    if request is not None:
        frame, _ = _Masker(request, read_boxes(path)).apply(frame, at)
    return frame.to_ndarray(format="bgr24")


class _Masker:
    """Masks the frames of one segment with its stored boxes."""

    def __init__(self, request: MaskRequest, track: BoxTrack | None) -> None:
        self.request = request
        self.track = track
        self.classes = request.classes
        self._static: tuple[tuple[int, int], np.ndarray | None] | None = None

    def apply(self, frame: VideoFrame, t: float) -> tuple[VideoFrame, str]:
        """The frame to encode, and what was masked: "none", "boxes" or "whole"."""
        settings = self.request.settings
        static = self._static_for(frame.width, frame.height)
        boxes, keep = self._boxes(t)
        kind = "boxes"
        if boxes is None:  # not covered by analysis: the whole picture
            boxes = np.array([[0, 0, frame.width, frame.height]], np.float32)
            settings, kind = settings.model_copy(update={"part": "box", "margin": 0.0}), "whole"
        elif not len(boxes) and static is None:
            return frame, "none"
        if frame.format.name in _PLANAR_420 and frame.width % 2 == 0 and frame.height % 2 == 0:
            # In the decoded picture's own planes (a copy only if the decoder still holds
            # it): no colour conversion of the whole picture, there and back.
            frame.make_writable()
            mask_planes([_plane(p) for p in frame.planes], boxes, settings, static, keep)
            return frame, kind
        image = mask_frame(frame.to_ndarray(format="bgr24"), boxes, settings, static, keep)
        return VideoFrame.from_ndarray(image, format="bgr24"), kind

    def _boxes(self, t: float) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The boxes to mask at `t` and which to keep; None when the stored boxes do not
        cover `t` and objects are to be masked."""
        if not self.classes:
            return np.zeros((0, 4), np.float32), None
        if self.track is None or not self.track.covers(t):
            return None, None
        boxes, ids, names = self.track.at(t)
        chosen = np.isin(np.asarray(names, dtype=object), self.classes)
        boxes, ids = boxes[chosen], ids[chosen]
        if self.request.keep_track is None:
            return boxes, None
        keep = ids == self.request.keep_track
        # A detection no track took lying mostly on the subject is the subject seen twice
        # (a weaker duplicate box): masking it would hide the person the export is about.
        untracked = ids < 0
        keep[untracked] = _share_inside(boxes[untracked], boxes[keep]) >= _SUBJECT_SHARE
        return boxes, keep

    def _static_for(self, width: int, height: int) -> np.ndarray | None:
        if self._static is None or self._static[0] != (width, height):
            self._static = ((width, height), static_mask(self.request.settings, width, height))
        return self._static[1]


def _share_inside(boxes: np.ndarray, within: np.ndarray) -> np.ndarray:
    """For each of `boxes` (N, 4), the largest share of its area inside one of `within`."""
    if not len(boxes) or not len(within):
        return np.zeros(len(boxes))
    low = np.maximum(boxes[:, None, :2], within[None, :, :2])
    high = np.minimum(boxes[:, None, 2:], within[None, :, 2:])
    overlap = np.clip(high - low, 0, None).prod(axis=2)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None).prod(axis=1)
    return np.asarray(overlap.max(axis=1) / area)


def _plane(plane: VideoPlane) -> np.ndarray:
    """A writable view of a picture plane's pixels (without the line padding)."""
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


class _Encoder:
    """An H.264 MP4 of frames at their wall-clock times (the first at 0): faststart in a
    file, or `fragmented` (a fragment per second, for streaming) into any writable."""

    def __init__(
        self, target: Path | _Chunks, first: VideoFrame, rate: Fraction, fragmented: bool = False
    ) -> None:
        flags = "+frag_keyframe+empty_moov+default_base_moof" if fragmented else "+faststart"
        self.container = av.open(
            target if isinstance(target, _Chunks) else os.fspath(target),
            "w",
            format="mp4",
            options={"movflags": flags},
        )
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = first.width, first.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = _TIME_BASE
        # A keyframe a second: each starts a fragment (and is a point to seek to).
        self.stream.options = (
            {**ENCODER, "g": str(max(1, round(rate)))} if fragmented else dict(ENCODER)
        )
        self.frames = 0
        self._origin: float | None = None
        self._last_pts = -1

    def write(self, frame: VideoFrame, wall: float) -> None:
        if self._origin is None:
            self._origin = wall
        pts = max(self._last_pts + 1, round((wall - self._origin) / _TIME_BASE))
        frame.pts, frame.time_base = pts, _TIME_BASE
        self._last_pts = pts
        frame.pict_type = PictureType.NONE  # the decoder's I/P would force keyframes
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()

    def abandon(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError, ValueError):
            self.container.close()


def _rate_of(path: Path) -> Fraction:
    with av.open(os.fspath(path)) as container:
        rate = container.streams.video[0].average_rate
    return Fraction(rate) if rate else Fraction(25)
