"""Export a camera's footage over a time range as one MP4, by remuxing its segments.

No frame is re-encoded, so the cut points snap to what the stream allows:

- the export starts at the last keyframe at or before `start` (a decoder cannot start
  elsewhere), so it may begin up to one keyframe interval early;
- it ends with the last frame whose decode time is before `end`.

Segments are joined back to back with continuous timestamps (each file's first frame
follows the previous file's last one): a hole in the footage (`SegmentIndex.gaps`) is
skipped, not played as a frozen frame, so the export can be shorter than the range. The
output is a faststart MP4 (H.265 tagged ``hvc1``) written to a temporary name and renamed
into place when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from vigil.errors import VigilError
from vigil.recording._mp4 import FINAL_MOVFLAGS, StreamKey, open_output
from vigil.recording.index import Segment, SegmentIndex

__all__ = ["RecordingError", "event_clip", "export"]

_log = logging.getLogger(__name__)


class RecordingError(VigilError):
    """Footage that cannot be exported (none in the range, unreadable files)."""


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _range(camera: str, start: float, end: float) -> str:
    return f"camera {camera!r} from {_when(start)} to {_when(end)}"


@dataclass(slots=True)
class _Writer:
    out: OutputContainer
    stream: Stream
    key: StreamKey
    time_base: Fraction  # of the output packets (the first file's)
    next_dts: int = 0  # where the next file starts
    packets: int = 0
    frame_ticks: int = 0


def export(
    index: SegmentIndex,
    camera: str,
    start: float,
    end: float,
    out_path: str | os.PathLike[str],
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write the footage of `camera` in [start, end) (wall clock) to `out_path` as one MP4;
    `progress(fraction)` after each segment copied.

    Raises `RecordingError` (one line naming the camera and the range) when there is no
    footage in the range, and when the stream's parameters (codec, size) change inside it
    (export the parts on either side separately).
    """
    if not end > start:
        raise RecordingError(f"{_range(camera, start, end)}: the end is not after the start")
    out_path = Path(out_path)
    segments = [s for s in index.between(camera, start, end) if _exists(s)]
    if not segments:
        raise RecordingError(f"no recordings of {_range(camera, start, end)}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    writer: _Writer | None = None
    try:
        for n, seg in enumerate(segments):
            writer = _append(
                writer, seg, tmp, start, end, first=n == 0, last=n == len(segments) - 1
            )
            if progress is not None:
                progress((n + 1) / len(segments))
        if writer is None or writer.packets == 0:
            raise RecordingError(f"no readable recordings of {_range(camera, start, end)}")
        writer.out.close()
        os.replace(tmp, out_path)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                writer.out.close()
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def event_clip(
    index: SegmentIndex,
    camera: str,
    event_start: float,
    event_end: float | None,
    out_path: str | os.PathLike[str],
    *,
    pre_roll: float = 5.0,
    post_roll: float = 5.0,
) -> Path:
    """The clip of an event: its footage from `pre_roll` seconds before it starts to
    `post_roll` seconds after it ends (an instant event: `event_end` None or equal to the
    start). Only finished segments are used: ask for it once the segment holding the end
    plus post-roll has been indexed."""
    stop = event_start if event_end is None else max(event_end, event_start)
    return export(index, camera, event_start - pre_roll, stop + post_roll, out_path)


def _exists(segment: Segment) -> bool:
    if Path(segment.path).is_file():
        return True
    _log.warning("export: segment %s is indexed but missing; skipped", segment.path)
    return False


def _append(
    writer: _Writer | None,
    seg: Segment,
    tmp: Path,
    start: float,
    end: float,
    *,
    first: bool,
    last: bool,
) -> _Writer | None:
    """Copy the part of `seg` inside [start, end) to the export; returns the writer."""
    try:
        src = av.open(seg.path)
    except (av.FFmpegError, OSError) as err:
        _log.warning("export: cannot read %s (%s); skipped", seg.path, err)
        return writer
    with src:
        if not src.streams.video:
            return writer
        stream = src.streams.video[0]
        tb = stream.time_base or Fraction(1, 90000)
        packets = list(_packets(src, stream))
        if not packets:
            return writer
        # Media time of the range within this file (the file starts at seg.start_time).
        origin = min(_presented(p) for p in packets)
        begin = origin + int((start - seg.start_time) / tb) if first else None
        stop = origin + int((end - seg.start_time) / tb) if last else None
        i0 = 0
        if begin is not None:
            for i, p in enumerate(packets):
                if p.is_keyframe and _presented(p) <= begin:
                    i0 = i
        chosen = packets[i0:]
        if stop is not None:
            chosen = [p for p in chosen if _decoded(p) < stop] or chosen[:1]
        key = StreamKey.of(stream)
        if writer is None:
            out, ostream = open_output(tmp, stream, movflags=FINAL_MOVFLAGS)
            writer = _Writer(out, ostream, key, tb)
        elif key != writer.key:
            raise RecordingError(
                f"{_range(seg.camera, start, end)}: the stream changed at "
                f"{_when(seg.start_time)} ({writer.key.codec} {writer.key.width}x"
                f"{writer.key.height} -> {key.codec} {key.width}x{key.height}); export "
                "the parts before and after it separately"
            )
        _copy(writer, chosen, tb)
    return writer


def _packets(container: av.container.InputContainer, stream: Stream) -> Iterator[Packet]:
    try:
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                yield packet
    except (av.FFmpegError, EOFError) as err:
        _log.warning("export: %s: stopped at an unreadable packet: %s", container.name, err)


def _decoded(packet: Packet) -> int:
    """A packet's decode time (`_packets` yields only packets that have one)."""
    assert packet.dts is not None
    return packet.dts


def _presented(packet: Packet) -> int:
    """A packet's presentation time; its decode time when it has none."""
    return packet.pts if packet.pts is not None else _decoded(packet)


def _copy(writer: _Writer, packets: list[Packet], tb: Fraction) -> None:
    """Mux `packets` (decode order, time base `tb`) after what the writer already has."""
    wtb = writer.time_base

    def ticks(value: int) -> int:
        return value if tb == wtb else round(value * tb / wtb)

    if writer.packets == 0:  # the export's first frame is presented at 0
        shift = -min(ticks(_presented(p)) for p in packets)
    else:  # decode times go on from the previous file's end
        shift = writer.next_dts - ticks(_decoded(packets[0]))
    end = writer.next_dts
    for packet in packets:
        dts = ticks(_decoded(packet)) + shift
        pts = ticks(_presented(packet)) + shift
        duration = ticks(packet.duration or 0)
        if duration > 0:
            writer.frame_ticks = duration
        packet.time_base = wtb
        packet.dts = dts
        packet.pts = pts
        packet.duration = duration
        packet.stream = writer.stream
        writer.out.mux(packet)
        writer.packets += 1
        end = max(end, dts + (duration or writer.frame_ticks or 1))
    writer.next_dts = end
