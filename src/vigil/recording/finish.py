"""Finishing a segment file: a journal (fragmented MP4) remuxed into a faststart MP4 that
replaces nothing until it is complete, reported, and only then the journal deleted; and what
a segment file says about itself (camera, start, flags, duration), for `recover`.

Used by `vigil.recording.segmenter` when a segment ends and when it repairs the journals a
killed process left behind.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from vigil.recording._mp4 import FINAL_MOVFLAGS, fsync_dir, fsync_file, open_output, read_metadata
from vigil.recording.segments import SegmentInfo

__all__ = ["TMP_SUFFIX", "SegmentIdentity", "finalize", "segment_duration", "segment_identity"]

#: Suffix of a remux being written (deleted by `recover`: its journal is still there).
TMP_SUFFIX = ".tmp"
_STEM = re.compile(r"^(\d{2})-(\d{2})-(\d{2})\.(\d{3})(?:-\d+)?$")
_log = logging.getLogger(__name__)


def _remux(source: Path, target: Path, metadata: dict[str, Any]) -> tuple[float, int]:
    """Copy the packets of `source` into a faststart MP4 `target`.

    Returns (media duration in seconds, packets). Reading stops quietly at the first
    unreadable packet (a damaged tail); ValueError when nothing could be read.
    """
    packets = 0
    first_dts: int | None = None
    end_dts = 0
    time_base = Fraction(1, 90000)
    out: OutputContainer | None = None
    with av.open(os.fspath(source), mode="r") as src:
        if not src.streams.video:
            raise ValueError(f"{source}: no video stream")
        stream = src.streams.video[0]
        time_base = stream.time_base or time_base
        try:
            out, ostream = open_output(
                target, stream, movflags=FINAL_MOVFLAGS, metadata=metadata or None
            )
            try:
                for packet in _readable(src, stream):
                    if packet.dts is None:
                        continue
                    if first_dts is None:
                        first_dts = packet.dts
                    end_dts = max(end_dts, packet.dts + (packet.duration or 0))
                    packet.stream = ostream
                    out.mux(packet)
                    packets += 1
            finally:
                if packets:
                    out.close()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if not packets:
            # Do not leave a header-only file.
            target.unlink(missing_ok=True)
            raise ValueError(f"{source}: no readable packets")
    assert first_dts is not None
    return float((end_dts - first_dts) * time_base), packets


def _readable(container: Any, stream: Stream) -> Iterator[Packet]:
    try:
        for packet in container.demux(stream):
            if packet.size:
                yield packet
    except (av.FFmpegError, EOFError) as err:
        _log.warning("%s: stopped at an unreadable packet: %s", container.name, err)


def finalize(
    journal: Path,
    final: Path,
    *,
    camera: str,
    start_time: float,
    motion: bool,
    objects: bool,
    fsync: bool = True,
    report: Callable[[SegmentInfo], object] | None = None,
) -> SegmentInfo | None:
    """Turn a (closed or cut-short) journal into `final`; report it; delete the journal.

    Returns None (and keeps nothing) when the journal holds no readable packet. If the
    remux fails for another reason the journal itself (a playable fragmented MP4) becomes
    the segment.
    """
    tmp = final.with_name(final.name + TMP_SUFFIX)
    metadata = {"camera": camera, "start_time": start_time, "motion": motion, "objects": objects}
    try:
        duration, _ = _remux(journal, tmp, metadata)
        if fsync:
            fsync_file(tmp)
        os.replace(tmp, final)
    except (av.FFmpegError, OSError, ValueError) as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, ValueError) and "no readable packets" in str(err):
            _log.warning("camera %s: %s: nothing recorded; deleted", camera, journal)
            journal.unlink(missing_ok=True)
            return None
        _log.error("camera %s: remuxing %s failed (%s); keeping it as is", camera, journal, err)
        try:
            duration = segment_duration(journal)
            os.replace(journal, final)
        except (av.FFmpegError, OSError, ValueError) as err2:
            _log.error("camera %s: %s is lost: %s", camera, journal, err2)
            journal.unlink(missing_ok=True)
            return None
    if fsync:
        fsync_dir(final.parent)
    info = SegmentInfo(
        camera=camera,
        path=str(final),
        start_time=start_time,
        end_time=start_time + duration,
        size_bytes=final.stat().st_size,
        motion=motion,
        objects=objects,
    )
    if report is not None:
        try:
            report(info)
        except Exception:
            # Keep the journal: recover() at the next start reports the segment again.
            _log.exception("camera %s: reporting segment %s failed", camera, final)
            return info
    journal.unlink(missing_ok=True)  # only now: a crash before this re-reports the file
    return info


def segment_duration(path: Path) -> float:
    """Media seconds of the readable packets of `path`; ValueError when there is none."""
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 90000)
        first: int | None = None
        end = 0
        for packet in _readable(container, stream):
            if packet.dts is None:
                continue
            first = packet.dts if first is None else first
            end = max(end, packet.dts + (packet.duration or 0))
        if first is None:
            raise ValueError(f"{path}: no readable packets")
        return float((end - first) * tb)


@dataclass(slots=True)
class SegmentIdentity:
    camera: str
    start_time: float
    motion: bool = True  # unknown (a journal): kept as footage with motion
    objects: bool = False


def segment_identity(path: Path) -> SegmentIdentity | None:
    """Camera, wall-clock start and (finished files only) flags of a segment file: from the
    metadata the segmenter writes into every file, else from its place
    ``<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>``."""
    try:
        with av.open(os.fspath(path)) as container:
            meta = read_metadata(container)
    except (av.FFmpegError, OSError):
        meta = {}
    camera, start = meta.get("camera"), meta.get("start_time")
    if isinstance(camera, str) and isinstance(start, (int, float)):
        found = SegmentIdentity(camera, float(start))
        if isinstance(meta.get("motion"), bool) and isinstance(meta.get("objects"), bool):
            found.motion, found.objects = meta["motion"], meta["objects"]
        return found
    stem = path.name.split(".mp4", 1)[0]
    match = _STEM.match(stem)
    try:
        day = datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    if match is None:
        return None
    h, m, s, ms = (int(g) for g in match.groups())
    return SegmentIdentity(
        path.parent.parent.name, day.timestamp() + h * 3600 + m * 60 + s + ms / 1000
    )
