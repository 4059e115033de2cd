"""`SegmentBoxes`: a camera worker's tracked boxes, written beside each finished segment.

Analytics (`add`, one call per analysed frame) runs behind ingest, which finishes the
segments (`segment_done`): a finished segment's boxes are written once analysis has passed
its end, or once the next segment has finished too (analysis stalled or off), or when the
worker stops (`close`). Only boxes are kept, never pixels (`vigil.privacy.boxes`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

import numpy as np

from vigil.detection.detections import Detections
from vigil.privacy.boxes import BoxTrack, FrameBoxes, write_boxes
from vigil.recording.segments import SegmentInfo

__all__ = ["SegmentBoxes"]

_log = logging.getLogger(__name__)

KEEP_S = 600.0  # analysed frames older than this (and than every pending segment) are dropped


class SegmentBoxes:
    """The boxes of every analysed frame, per segment, for one camera (thread-safe)."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self._class_names = class_names
        self._lock = threading.Lock()
        self._frames: deque[tuple[float, Detections]] = deque()  # (wall time, objects)
        self._pending: list[SegmentInfo] = []
        self._analysed_until = float("-inf")

    def add(self, wall_time: float, objects: Detections) -> None:
        """The tracked objects of the frame captured at `wall_time` (analytics thread)."""
        with self._lock:
            self._frames.append((wall_time, objects))
            self._analysed_until = max(self._analysed_until, wall_time)
            due = [s for s in self._pending if s.end_time <= self._analysed_until]
        self._write(due)

    def segment_done(self, info: SegmentInfo) -> None:
        """A segment was finished (ingest thread)."""
        with self._lock:
            self._pending.append(info)
            due = [
                s
                for s in self._pending
                if s.end_time <= self._analysed_until or s.end_time < info.start_time
            ]
        self._write(due)

    def close(self) -> None:
        """Write every pending segment's boxes (the worker stops)."""
        with self._lock:
            due = list(self._pending)
        self._write(due)

    def _write(self, segments: list[SegmentInfo]) -> None:
        for info in segments:
            with self._lock:
                if info not in self._pending:
                    continue  # another thread wrote it meanwhile
                self._pending.remove(info)
                frames = [
                    (t, objects)
                    for t, objects in self._frames
                    if info.start_time <= t < info.end_time
                ]
                self._forget_before(info.end_time)
            try:
                write_boxes(info.path, self._track(info.start_time, frames))
            except OSError as err:
                _log.error(
                    "camera %s: cannot store the boxes of %s: %s", info.camera, info.path, err
                )

    def _forget_before(self, end_time: float) -> None:
        """Drop frames no pending segment needs (and any older than `KEEP_S`)."""
        oldest = min((s.start_time for s in self._pending), default=end_time)
        cutoff = max(min(oldest, end_time), self._analysed_until - KEEP_S)
        while self._frames and self._frames[0][0] < cutoff:
            self._frames.popleft()

    def _track(self, start: float, frames: list[tuple[float, Detections]]) -> BoxTrack:
        names = self._class_names
        return BoxTrack.from_frames(
            [
                FrameBoxes(
                    t - start,
                    objects.xyxy.astype(np.float32),
                    objects.tracker_id.astype(np.int64),
                    [names[c] for c in objects.class_id.tolist()],
                )
                for t, objects in frames
            ]
        )
