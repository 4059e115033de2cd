"""`Segmenter`: a camera's compressed packets remuxed (never decoded) into fixed-length MP4s.

Files and their life cycle
--------------------------
A segment of camera ``cam`` starting at wall-clock time *t* (UTC) is written as
``<directory>/<cam>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4``:

1. While it is recorded the packets go to ``<name>.mp4.part``, a *fragmented* MP4 (a
   fragment at every keyframe and at least every `fragment_seconds`, each flushed to the
   file when it is cut). A process killed at any moment leaves a journal whose complete
   fragments are all readable.
2. When the segment ends (the first keyframe `segment_seconds` after its start, `gap()`,
   `start()` with a new stream, or `close()`), the journal is remuxed into a regular MP4
   with ``movflags=+faststart`` (index before the media, what browsers want), written as
   ``<name>.mp4.tmp``, synced, renamed atomically to ``<name>.mp4``; then `on_segment` is
   called and only then is the journal deleted.

So a finished ``.mp4`` is always complete, and `recover()` (run at startup, before any
camera records into the directory) turns every journal left by a crash into a finished
segment: it cuts the journal after its last complete fragment and remuxes that, losing at
most the last fragment (about a second). See `recover` for the details.

Timestamps
----------
Each file starts at 0 (the first packet's presentation time is subtracted; with B-frames
the first decode times are negative, which MP4 expresses with an edit list). Packets without
timestamps get them from their duration or, failing that, from the wall clock; a packet
without a duration (RTSP) gets the decode-time distance to the next packet, which is why
packets are written one packet late. A decode time that goes backwards or jumps forward by
more than `max_jump` seconds ends the segment (a new one starts at the next keyframe).

Times in `SegmentInfo` are wall clock: the segment starts at the wall time the caller gave
for its first packet and ends its media duration later.

The class is not thread-safe: call `start`, `write`, `gap` and `close` from the thread
that reads the packets (a SIGTERM handler should ask that loop to call `close()`). `mark`
may come from another thread (it only sets flags; a mark racing a cut may land in the
neighbouring segment).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from vigil.recording._mp4 import (
    JOURNAL_MOVFLAGS,
    codec_of,
    complete_prefix,
    open_output,
    parameter_holder,
)
from vigil.recording.finish import TMP_SUFFIX, finalize, segment_duration, segment_identity
from vigil.recording.segments import SegmentInfo

__all__ = [
    "JOURNAL_SUFFIX",
    "RECORDABLE_CODECS",
    "Segmenter",
    "camera_dirname",
    "recover",
    "segment_path",
]

_log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".part"
#: Codecs recorded (by PyAV codec name): what browsers play from an MP4.
RECORDABLE_CODECS = frozenset({"h264", "hevc"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def camera_dirname(camera: str) -> str:
    """The folder name for a camera: the name with anything but ``[A-Za-z0-9._-]`` -> ``_``."""
    name = _SAFE_NAME.sub("_", camera)
    if not name or name.strip(".") == "":
        name = "_" + name
    return name


def segment_path(directory: str | os.PathLike[str], camera: str, start: float) -> Path:
    """``<directory>/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4`` for a wall-clock start (UTC)."""
    moment = datetime.fromtimestamp(start, UTC)
    return (
        Path(directory)
        / camera_dirname(camera)
        / moment.strftime("%Y-%m-%d")
        / f"{moment.strftime('%H-%M-%S')}.{moment.microsecond // 1000:03d}.mp4"
    )


def _journal(final: Path) -> Path:
    return final.with_name(final.name + JOURNAL_SUFFIX)


@dataclass(slots=True)
class _Open:
    """The segment being written."""

    container: OutputContainer
    stream: VideoStream
    final: Path
    start_wall: float
    origin: int  # input ticks subtracted from every timestamp: the first packet's pts
    first_dts: int  # input ticks
    last_dts: int
    packets: int = 0
    motion: bool = False
    objects: bool = False


@dataclass(slots=True)
class _Pending:
    packet: Packet
    dts: int  # input ticks, not rebased


class Segmenter:
    """Remux one camera's packets into MP4 segments of about `segment_seconds` each.

    `start(stream)` with the input's video stream (H.264 or H.265), then `write(packet,
    wall_time)` for each of its packets, `mark(motion, objects)` per processed frame,
    `gap()` when the stream is lost, `close()` at the end (also on SIGTERM). Each finished
    segment is reported to `on_segment` (see `SegmentInfo`).

    The first segment starts at a keyframe (earlier packets are dropped); a new one starts
    at the first keyframe at or after `segment_seconds` of media time since the segment's
    start, so segments are as long as `segment_seconds` rounded up to the camera's GOP.
    The caller keeps ownership of the packets: they are copied, never modified.
    """

    def __init__(
        self,
        camera: str,
        directory: str | os.PathLike[str],
        *,
        segment_seconds: float = 10.0,
        on_segment: Callable[[SegmentInfo], None] | None = None,
        fragment_seconds: float = 1.0,
        max_jump: float = 10.0,
        fsync: bool = True,
        min_free_bytes: int = 0,
    ) -> None:
        if not segment_seconds > 0:
            raise ValueError(f"segment_seconds must be > 0, got {segment_seconds}")
        if not fragment_seconds > 0:
            raise ValueError(f"fragment_seconds must be > 0, got {fragment_seconds}")
        self.camera = camera
        self.directory = Path(directory)
        self.segment_seconds = float(segment_seconds)
        self.fragment_seconds = float(fragment_seconds)
        self.max_jump = float(max_jump)
        self.fsync = fsync
        self.on_segment = on_segment
        #: No segment is started while the disk has less free space than this (the
        #: database shares the disk: it must never fill), so a full disk pauses recording.
        self.min_free_bytes = int(min_free_bytes)
        #: Packets dropped while waiting for a keyframe (cumulative).
        self.dropped_packets = 0
        #: Segments finished (cumulative).
        self.segments = 0
        #: Wall-clock end of the last finished segment (for the recording lag), or None.
        self.last_end_time: float | None = None
        #: The last error that cost footage (one line), or None.
        self.last_error: str | None = None
        self._holder: OutputContainer | None = None
        self._template: VideoStream | None = None
        self._time_base = Fraction(1, 90000)
        self._seg: _Open | None = None
        self._pending: _Pending | None = None
        self._last_dts: int | None = None  # input ticks of the last packet seen
        self._last_wall: float | None = None
        self._last_duration = 0  # input ticks
        self._frame_ticks = 0  # duration of the last packet written
        self._closed = False
        self._unsupported: str | None = None
        self._error_logged_at: dict[str, float] = {}

    # ---------------------------------------------------------------- public

    @property
    def recording(self) -> bool:
        """Whether a segment is open."""
        return self._seg is not None

    @property
    def segment_start(self) -> float | None:
        """Wall-clock start of the open segment, or None."""
        return None if self._seg is None else self._seg.start_wall

    def start(self, template_stream: Stream) -> None:
        """Record packets of `template_stream` (the input's video stream) from now on.

        Calling it again (a reconnect with a new stream) ends the open segment first. The
        codec parameters are copied, so the input container may be closed afterwards.

        Only H.264 and H.265 are recorded (what browsers play from MP4 without
        re-encoding): for another codec (an MJPEG camera) the error is logged and kept in
        `last_error`, and packets are ignored until `start()` gets a stream it can record.
        """
        self._check_open()
        self._finish()
        self._release_holder()
        self._reset_timeline()
        self._unsupported = None
        video = template_stream if isinstance(template_stream, VideoStream) else None
        codec = codec_of(video) if video is not None else None
        if video is None or codec not in RECORDABLE_CODECS:
            what = f"codec {codec}" if codec else f"a {template_stream.type} stream"
            self._unsupported = (
                f"camera {self.camera}: cannot record {what} without re-encoding "
                f"(only {', '.join(sorted(RECORDABLE_CODECS))}); not recording"
            )
            self._log_error("codec", self._unsupported)
            return
        self._holder, self._template = parameter_holder(video)
        self._time_base = template_stream.time_base or Fraction(1, 90000)

    def write(self, packet: Packet, wall_time: float) -> None:
        """Remux one packet of the started stream; `wall_time` is its capture time."""
        self._check_open()
        if self._template is None:
            if self._unsupported is None:
                raise RuntimeError(f"camera {self.camera}: Segmenter.start() was not called")
            self.dropped_packets += packet.size > 0
            return
        if packet.size == 0:
            return  # a demuxer's flush packet
        dts, pts = self._timestamps(packet, wall_time)
        seg = self._seg
        if seg is not None:
            step = dts - seg.last_dts
            if step <= 0 or float(step * self._time_base) > self.max_jump:
                self._log_error(
                    "timestamps",
                    f"camera {self.camera}: decode time jumped by "
                    f"{float(step * self._time_base):+.3f} s; segment ended early",
                )
                self._finish()
            elif packet.is_keyframe and (
                float((dts - seg.first_dts) * self._time_base) >= self.segment_seconds
            ):
                self._finish(next_dts=dts)
        if self._seg is None:
            if not packet.is_keyframe:
                self.dropped_packets += 1
                return
            if not self._open(dts, pts, wall_time):
                self.dropped_packets += 1
                return
        self._push(packet, dts, pts)

    def mark(self, motion: bool = False, objects: bool = False) -> None:
        """Record that a processed frame had motion / tracked objects (ORed into the open
        segment; ignored when no segment is open)."""
        seg = self._seg
        if seg is not None:
            seg.motion = seg.motion or bool(motion)
            seg.objects = seg.objects or bool(objects)

    def gap(self) -> None:
        """The stream was lost: finish the open segment; the next one starts at the next
        keyframe, so the missing time shows as a gap between segments in the index."""
        self._check_open()
        self._finish()
        self._reset_timeline()

    def close(self) -> None:
        """Finish the open segment (its file is complete when this returns). Idempotent."""
        if self._closed:
            return
        try:
            self._finish()
        finally:
            self._closed = True
            self._release_holder()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"camera {self.camera}: the segmenter is closed")

    def _release_holder(self) -> None:
        if self._holder is not None:
            self._holder.close()
        self._holder = None
        self._template = None

    def _reset_timeline(self) -> None:
        self._last_dts = None
        self._last_wall = None
        self._last_duration = 0

    def _log_error(self, kind: str, message: str) -> None:
        """Log `message` (at most once a minute per kind) and keep it as `last_error`."""
        self.last_error = message
        now = time.monotonic()
        if now - self._error_logged_at.get(kind, -1e9) >= 60.0:
            self._error_logged_at[kind] = now
            _log.error("%s", message)

    def _timestamps(self, packet: Packet, wall_time: float) -> tuple[int, int]:
        """Decode and presentation time of `packet` in the template's ticks."""
        tb = self._time_base
        ptb = packet.time_base
        dts, pts = packet.dts, packet.pts
        if ptb is not None and ptb != tb:
            dts = None if dts is None else round(dts * ptb / tb)
            pts = None if pts is None else round(pts * ptb / tb)
        if dts is None:
            dts = pts
        if dts is None:
            if self._last_dts is None:
                dts = round(wall_time / tb)
            elif self._last_duration > 0:
                dts = self._last_dts + self._last_duration
            else:
                assert self._last_wall is not None
                dts = self._last_dts + max(1, round((wall_time - self._last_wall) / tb))
        if pts is None:
            pts = dts
        duration = packet.duration or 0
        if ptb is not None and ptb != tb and duration:
            duration = round(duration * ptb / tb)
        self._last_dts = dts
        self._last_wall = wall_time
        self._last_duration = duration
        return dts, pts

    def _open(self, dts: int, pts: int, wall_time: float) -> bool:
        assert self._template is not None
        base = final = segment_path(self.directory, self.camera, wall_time)
        n = 0
        while final.exists() or _journal(final).exists():
            n += 1
            final = base.with_name(f"{base.stem}-{n}.mp4")
        try:
            if self.min_free_bytes > 0:
                self.directory.mkdir(parents=True, exist_ok=True)
                free = shutil.disk_usage(self.directory).free
                if free < self.min_free_bytes:
                    self._log_error(
                        "disk",
                        f"camera {self.camera}: recording paused: {free / 1e6:.1f} MB free "
                        f"on {self.directory}, under the {self.min_free_bytes / 1e6:.1f} MB floor",
                    )
                    return False
            final.parent.mkdir(parents=True, exist_ok=True)
            container, stream = open_output(
                _journal(final),
                self._template,
                movflags=JOURNAL_MOVFLAGS,
                extra_options={
                    "frag_duration": str(max(1, round(self.fragment_seconds * 1_000_000))),
                    "flush_packets": "1",
                },
                metadata={"camera": self.camera, "start_time": wall_time},
            )
        except (OSError, av.FFmpegError, ValueError) as err:
            self._log_error("open", f"camera {self.camera}: cannot write {final}: {err}")
            return False
        self._seg = _Open(container, stream, final, wall_time, pts, dts, dts)
        return True

    def _push(self, packet: Packet, dts: int, pts: int) -> None:
        seg = self._seg
        assert seg is not None
        if self._pending is not None:
            self._flush_pending(next_dts=dts)
        if self._seg is None:  # the flush failed and dropped the segment
            return
        copy = Packet(bytes(packet))
        copy.is_keyframe = packet.is_keyframe
        copy.time_base = self._time_base
        copy.dts = dts - seg.origin
        copy.pts = pts - seg.origin
        copy.duration = self._last_duration
        copy.stream = seg.stream
        seg.last_dts = dts
        self._pending = _Pending(copy, dts)

    def _flush_pending(self, next_dts: int | None) -> None:
        pending, seg = self._pending, self._seg
        self._pending = None
        if pending is None or seg is None:
            return
        packet = pending.packet
        if packet.duration:
            self._frame_ticks = packet.duration
        elif next_dts is not None and next_dts > pending.dts:
            packet.duration = self._frame_ticks = next_dts - pending.dts
        else:  # the last packet before a gap or a jump: as long as the one before
            packet.duration = self._frame_ticks
        try:
            seg.container.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as err:
            self._log_error("write", f"camera {self.camera}: writing {seg.final}: {err}")
            self._abandon()
            return
        seg.packets += 1
        seg.last_dts = pending.dts + (packet.duration or 0)

    def _abandon(self) -> None:
        """Give up the open segment after a write error (its journal stays for recover())."""
        seg, self._seg = self._seg, None
        self._pending = None
        if seg is not None:
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                seg.container.close()

    def _finish(self, next_dts: int | None = None) -> None:
        """Close the open segment and turn its journal into the finished MP4."""
        if self._seg is None:
            return
        self._flush_pending(next_dts)
        seg, self._seg = self._seg, None
        if seg is None:
            return
        try:
            seg.container.close()
        except (av.FFmpegError, OSError, ValueError) as err:
            self._log_error("close", f"camera {self.camera}: finishing {seg.final}: {err}")
        if seg.packets == 0:
            _journal(seg.final).unlink(missing_ok=True)
            return
        info = finalize(
            _journal(seg.final),
            seg.final,
            camera=self.camera,
            start_time=seg.start_wall,
            motion=seg.motion,
            objects=seg.objects,
            fsync=self.fsync,
            report=self._report,
        )
        if info is None:
            self.last_error = f"camera {self.camera}: {seg.final} could not be finished"

    def _report(self, info: SegmentInfo) -> None:
        self.segments += 1
        self.last_end_time = info.end_time
        if self.on_segment is not None:
            self.on_segment(info)


# --------------------------------------------------------------------------- recovery


def recover(
    directory: str | os.PathLike[str],
    *,
    report: Callable[[SegmentInfo], object] | None = None,
    fsync: bool = True,
) -> list[SegmentInfo]:
    """Repair what a killed process left under `directory`; returns the segments it saved.

    Run it at startup, before any `Segmenter` writes into `directory` (it would take their
    journals for leftovers). For each journal ``<name>.mp4.part``:

    - if ``<name>.mp4`` exists, the process died after finishing the segment but perhaps
      before it was indexed: the journal is deleted and the segment returned again
      (`SegmentIndex.add` is idempotent per path);
    - otherwise the journal is cut after its last complete fragment and remuxed into
      ``<name>.mp4`` (losing at most the fragment being written, about a second), and
      returned; a journal without one readable packet is deleted.

    Leftover ``.mp4.tmp`` files (a remux cut short) are deleted: their journal is still
    there. A finished file keeps the flags written into its metadata; a repaired journal
    gets ``motion=True`` (unknown, so the retention keeps it as footage with motion) and
    ``objects=False``. Add the returned segments to the index (or pass `report`).
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    for tmp in sorted(root.rglob(f"*.mp4{TMP_SUFFIX}")):
        _log.info("recovery: deleting the unfinished remux %s", tmp)
        tmp.unlink(missing_ok=True)
    saved: list[SegmentInfo] = []
    for journal in sorted(root.rglob(f"*.mp4{JOURNAL_SUFFIX}")):
        final = journal.with_name(journal.name.removesuffix(JOURNAL_SUFFIX))
        if final.exists():
            info = _recover_finished(journal, final)
            if info is not None and report is not None:
                report(info)
        else:
            info = _recover_journal(journal, final, fsync=fsync, report=report)
        if info is not None:
            saved.append(info)
    return saved


def _recover_finished(journal: Path, final: Path) -> SegmentInfo | None:
    """The finished `final`, whose journal was left (it may not be indexed yet): the journal
    is deleted; None when `final` is not a readable segment."""
    identity = segment_identity(final)
    if identity is None:
        _log.warning("recovery: %s is not a readable segment; deleted", journal)
        journal.unlink(missing_ok=True)
        return None
    try:
        duration = segment_duration(final)
    except (av.FFmpegError, OSError, ValueError):
        _log.warning("recovery: %s is unreadable; deleted", final)
        final.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        return None
    journal.unlink(missing_ok=True)
    return SegmentInfo(
        identity.camera,
        str(final),
        identity.start_time,
        identity.start_time + duration,
        final.stat().st_size,
        identity.motion,
        identity.objects,
    )


def _recover_journal(
    journal: Path, final: Path, *, fsync: bool, report: Callable[[SegmentInfo], object] | None
) -> SegmentInfo | None:
    """`final` made from the complete fragments of `journal` (reported by `finalize`), or
    None when the journal holds no readable segment (deleted)."""
    size = journal.stat().st_size
    keep = complete_prefix(journal)
    if keep == 0:
        _log.warning("recovery: %s has no complete header; deleted", journal)
        journal.unlink(missing_ok=True)
        return None
    if keep < size:
        os.truncate(journal, keep)  # whole fragments only: the rest cannot be read
    identity = segment_identity(journal)
    if identity is None:
        _log.warning("recovery: %s is not a readable segment; deleted", journal)
        journal.unlink(missing_ok=True)
        return None
    info = finalize(
        journal,
        final,
        camera=identity.camera,
        start_time=identity.start_time,
        motion=True,
        objects=False,
        fsync=fsync,
        report=report,
    )
    if info is not None:
        _log.info(
            "recovery: %s repaired (%.1f s, %d of %d bytes of the journal kept)",
            final,
            info.end_time - info.start_time,
            keep,
            size,
        )
    return info
