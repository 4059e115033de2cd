"""The tracked boxes of a recording segment, stored beside it for masking at serve time.

Recordings are never re-encoded on disk; to serve one masked (playback, clips, exports,
subject-access exports) the boxes of every tracked object on every analysed frame of the
segment are kept in ``<segment>.boxes`` (``<name>.mp4`` -> ``<name>.boxes``): a compressed
NumPy archive of a few arrays, a few kilobytes per 10 s segment. Retention deletes it with
its segment; on a cluster it sits on the node with the segment.

Times are seconds from the segment's start (the wall-clock start of its first packet, which
is media time 0 in the file). Between analysed frames a track's box is interpolated; a track
seen on only one side of a moment is held there (it is masked a little early or a little
late rather than not at all). Boxes with no track (id -1: a detection no track took) are
never interpolated, only held. `BoxTrack.covers` says whether a moment is near enough to an
analysed frame for its boxes to be trusted: a reader masks the whole picture where they are
not (analysis was down), so a gap in analysis never serves a person unmasked.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BOXES_SUFFIX",
    "MAX_GAP_S",
    "BoxTrack",
    "FrameBoxes",
    "boxes_path",
    "load_boxes",
    "read_boxes",
    "write_boxes",
]

_log = logging.getLogger(__name__)

BOXES_SUFFIX = ".boxes"
#: Farther than this from an analysed frame, a moment's boxes are not trusted (`covers`).
MAX_GAP_S = 2.0
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class FrameBoxes:
    """The tracked objects of one analysed frame: `t` seconds from the segment's start."""

    t: float
    boxes: np.ndarray  # float32 [N, 4] x1, y1, x2, y2 in pixels
    track_ids: np.ndarray  # int64 [N]
    class_names: Sequence[str]  # [N]


@dataclass(frozen=True)
class BoxTrack:
    """Per analysed frame (sorted by time): the boxes, track ids and classes of its objects,
    flattened: frame ``i`` owns rows ``offsets[i]:offsets[i + 1]``."""

    times: np.ndarray  # float64 [F]
    offsets: np.ndarray  # int64 [F + 1]
    boxes: np.ndarray  # float32 [M, 4]
    track_ids: np.ndarray  # int64 [M]
    class_index: np.ndarray  # int32 [M], into `class_names`
    class_names: tuple[str, ...]

    @classmethod
    def from_frames(cls, frames: Sequence[FrameBoxes]) -> BoxTrack:
        ordered = sorted(frames, key=lambda f: f.t)
        names = tuple(sorted({c for f in ordered for c in f.class_names}))
        lookup = {name: i for i, name in enumerate(names)}
        counts = [len(f.track_ids) for f in ordered]
        return cls(
            times=np.array([f.t for f in ordered], np.float64),
            offsets=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
            boxes=np.concatenate([np.asarray(f.boxes, np.float32).reshape(-1, 4) for f in ordered])
            if ordered
            else np.zeros((0, 4), np.float32),
            track_ids=np.concatenate([np.asarray(f.track_ids, np.int64) for f in ordered])
            if ordered
            else np.zeros(0, np.int64),
            class_index=np.array([lookup[c] for f in ordered for c in f.class_names], np.int32),
            class_names=names,
        )

    def __len__(self) -> int:
        return len(self.times)

    def covers(self, t: float, max_gap: float = MAX_GAP_S) -> bool:
        """Whether an analysed frame is within `max_gap` seconds of `t`."""
        if not len(self.times):
            return False
        i = int(np.searchsorted(self.times, t))
        near = self.times[max(0, i - 1) : i + 1]
        return bool(np.min(np.abs(near - t)) <= max_gap)

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The boxes [N, 4], track ids [N] and class names at `t`: boxes of tracks on both
        neighbouring analysed frames interpolated, those on one side only held."""
        times = self.times
        if not len(times):
            return np.zeros((0, 4), np.float32), np.zeros(0, np.int64), []
        after = int(np.searchsorted(times, t, side="right"))
        if after == 0 or after == len(times):
            rows = self._rows(0 if after == 0 else after - 1)
            return self.boxes[rows], self.track_ids[rows], self._names(rows)
        a, b = self._rows(after - 1), self._rows(after)
        ids_a, ids_b = self.track_ids[a], self.track_ids[b]
        # Untracked boxes (negative ids) pair with nothing: -1 on one side, -2 on the other.
        _, ia, ib = np.intersect1d(
            np.where(ids_a >= 0, ids_a, -1), np.where(ids_b >= 0, ids_b, -2), return_indices=True
        )
        w = (t - times[after - 1]) / (times[after] - times[after - 1])
        boxes = self.boxes[a].copy()
        boxes[ia] = (1 - w) * self.boxes[a][ia] + w * self.boxes[b][ib]
        only_b = np.setdiff1d(np.arange(len(ids_b)), ib, assume_unique=True)
        rows = np.concatenate([a, b[only_b]])
        return (
            np.concatenate([boxes, self.boxes[b][only_b]]).astype(np.float32, copy=False),
            self.track_ids[rows],
            self._names(rows),
        )

    def track_ids_between(self, start: float, end: float) -> np.ndarray:
        """The ids of the tracks seen on analysed frames in [start, end] (sorted)."""
        lo = int(np.searchsorted(self.times, start, side="left"))
        hi = int(np.searchsorted(self.times, end, side="right"))
        return np.unique(self.track_ids[self.offsets[lo] : self.offsets[hi]])

    def _rows(self, frame: int) -> np.ndarray:
        return np.arange(self.offsets[frame], self.offsets[frame + 1])

    def _names(self, rows: np.ndarray) -> list[str]:
        names = self.class_names
        return [names[i] for i in self.class_index[rows].tolist()]


def boxes_path(segment_path: str | os.PathLike[str]) -> Path:
    """``<name>.mp4`` -> ``<name>.boxes``."""
    return Path(segment_path).with_suffix(BOXES_SUFFIX)


def write_boxes(segment_path: str | os.PathLike[str], frames: BoxTrack) -> Path:
    """Store `frames` beside the segment (atomically: a reader never sees half a file)."""
    path = boxes_path(segment_path)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        format=np.array(_FORMAT),
        times=frames.times,
        offsets=frames.offsets,
        boxes=frames.boxes,
        track_ids=frames.track_ids,
        class_index=frames.class_index,
        class_names=np.array(frames.class_names, dtype=np.str_),
    )
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def read_boxes(segment_path: str | os.PathLike[str]) -> BoxTrack | None:
    """The segment's stored boxes; None when it has none or they cannot be read (logged):
    a reader then masks the whole picture."""
    return load_boxes(boxes_path(segment_path))


def load_boxes(path: str | os.PathLike[str]) -> BoxTrack | None:
    """The boxes in the ``.boxes`` file at `path` (see `read_boxes`)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != _FORMAT:
                raise ValueError(f"format {int(data['format'])}, expected {_FORMAT}")
            track = BoxTrack(
                times=data["times"].astype(np.float64),
                offsets=data["offsets"].astype(np.int64),
                boxes=data["boxes"].astype(np.float32).reshape(-1, 4),
                track_ids=data["track_ids"].astype(np.int64),
                class_index=data["class_index"].astype(np.int32),
                class_names=tuple(str(c) for c in data["class_names"].tolist()),
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as err:
        _log.warning("cannot read the boxes %s: %s", path, err)
        return None
    if len(track.offsets) != len(track.times) + 1 or track.offsets[-1] != len(track.track_ids):
        _log.warning("cannot read the boxes %s: inconsistent arrays", path)
        return None
    return track
