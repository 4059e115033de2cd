"""`TrackSummarizer`: turns a camera's tracked objects, frame by frame, into one
`TrackSummary` per finished track — what forensic search stores and queries.

Per frame it only samples: each track's anchor (bottom centre) is logged at most every
`SAMPLE_SECONDS`, vectorised over the frame's objects. When a track has been unseen for
`lost_timeout` seconds (or the stream ends) its samples become a summary: the path
(normalised to the frame, thinned to at most `MAX_PATH_POINTS`), the seconds it spent in
each zone, the lines it crossed and which way, its longest dwell and, where a zone is
calibrated in metres, its top ground speed. A track longer than `MAX_SUMMARY_SECONDS` is
summarised in consecutive pieces, so that every stored summary spans at most that long (the
time prefilter of `vigil.forensics.store` relies on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vigil.geometry.shapes import Line, Zone
from vigil.geometry.tracking import MS_TO_KMH, TrackTable

SAMPLE_SECONDS = 0.25
"""A track's anchor is logged at most this often."""
MAX_PATH_POINTS = 48
"""A stored path has at most this many points (first and last kept)."""
MAX_SUMMARY_SECONDS = 3600.0
"""A summary spans at most this long; a longer track is stored in pieces."""
SPEED_BASELINE_SECONDS = 2.0
"""Top speed is measured over displacements of about this long (anchor jitter averages out)."""
CROP_HEIGHT = 96
"""A track's crop is at most this many pixels high."""
CROP_GROWTH = 1.25
"""A track's crop is taken again when its box is this much larger (area) than the last one."""
CROP_MARGIN = 0.1
"""Share of the box added on each side of a crop."""


@dataclass(frozen=True, eq=False)
class TrackSummary:
    """One finished track (or a `MAX_SUMMARY_SECONDS` piece of a longer one)."""

    source: str
    track_id: int
    class_name: str
    first_time: float
    last_time: float
    path: np.ndarray
    """(N, 3) float32: seconds after `first_time`, x and y normalised to the frame (0..1)."""
    zones: dict[str, float] = field(default_factory=dict)
    """Zone name -> seconds inside it (zones it never entered are absent)."""
    lines: list[tuple[str, str, float]] = field(default_factory=list)
    """``(line, "in" | "out", seconds after first_time)`` per crossing, in order."""
    speed_kmh: float | None = None
    """Top ground speed in a calibrated zone; None when unknown."""
    crop: bytes | None = None
    """A small JPEG of the object where it looked largest (unmasked: the record; served
    masked as the camera's policy says)."""
    crop_box: tuple[int, int, int, int, int, int] | None = None
    """Where the crop was cut: x1, y1, x2, y2 in the frame, and the frame's width and height."""

    @property
    def dwell(self) -> float:
        """The longest time in one zone; the whole duration when it visited none."""
        return max(self.zones.values(), default=self.last_time - self.first_time)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_x, min_y, max_x, max_y)`` of the path, normalised."""
        xy = self.path[:, 1:3]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def thin(samples: np.ndarray, limit: int = MAX_PATH_POINTS) -> np.ndarray:
    """At most `limit` rows of `samples`, evenly spread, first and last kept."""
    if len(samples) <= limit:
        return samples
    keep = np.unique(np.linspace(0, len(samples) - 1, limit).round().astype(np.intp))
    return samples[keep]


class TrackSummarizer:
    """Summaries of one camera's tracks. `zones` and `lines` are in pixels for the frames
    fed to `update` (a scene's); `class_names[i]` names class id ``i``."""

    def __init__(
        self,
        source: str,
        zones: Mapping[str, Zone],
        lines: Mapping[str, Line],
        class_names: Sequence[str],
        lost_timeout: float = 2.0,
    ):
        self.source = source
        self.zones = dict(zones)
        self.lines = dict(lines)
        self.class_names = tuple(class_names)
        self.lost_timeout = float(lost_timeout)
        self._tracks = TrackTable(
            first=(np.float64, np.nan),
            last_seen=(np.float64, np.nan),
            last_sample=(np.float64, -np.inf),
            votes=(np.int32, 0, (max(len(self.class_names), 1),)),
            crop_area=(np.float64, 0.0),
        )
        self._crops: dict[int, tuple[bytes, tuple[int, int, int, int, int, int]]] = {}
        self._log: list[np.ndarray] = []  # (k, 4) float64 rows: track id, t, x px, y px
        self._frame_size = (1, 1)

    def update(
        self,
        now: float,
        frame_size: tuple[int, int],
        tracker_ids: np.ndarray,
        xyxy: np.ndarray,
        class_ids: np.ndarray,
        image: np.ndarray | None = None,
    ) -> list[TrackSummary]:
        """Feed one analysed frame's tracked objects (boxes in pixels; `image`, BGR, for the
        tracks' crops); returns the summaries of the tracks that ended (unseen for
        `lost_timeout`) or reached `MAX_SUMMARY_SECONDS`."""
        self._frame_size = frame_size
        ids = np.asarray(tracker_ids, dtype=np.int64).reshape(-1)
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        anchors = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
        tracks = self._tracks
        rows, new = tracks.slots(ids)
        tracks["first"][rows[new]] = now
        tracks["last_seen"][rows] = now
        votes = tracks["votes"]
        classes = np.clip(np.asarray(class_ids, dtype=np.intp), 0, votes.shape[1] - 1)
        np.add.at(votes, (rows, classes), 1)
        due = now - tracks["last_sample"][rows] >= SAMPLE_SECONDS - 1e-9
        if due.any():
            tracks["last_sample"][rows[due]] = now
            points = anchors[due]
            self._log.append(
                np.column_stack([ids[due].astype(np.float64), np.full(len(points), now), points])
            )
        if image is not None and len(ids):
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            larger = areas > tracks["crop_area"][rows] * CROP_GROWTH
            tracks["crop_area"][rows[larger]] = areas[larger]
            for i in np.flatnonzero(larger):  # a few per frame: new tracks, or ones coming closer
                self._take_crop(int(ids[i]), boxes[i], image)
        ended = tracks["last_seen"] < now - self.lost_timeout
        long = tracks["first"] <= now - MAX_SUMMARY_SECONDS
        if not (ended.any() or long.any()):
            return []
        summaries = self._summarise(tracks.ids[ended | long])
        for track_id in tracks.ids[ended].tolist():
            self._crops.pop(track_id, None)
        tracks.remove(ended)
        tracks["first"][long[~ended]] = now  # the next piece of a long track starts now
        return summaries

    def _take_crop(self, track_id: int, box: np.ndarray, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box
        pad_x, pad_y = CROP_MARGIN * (x2 - x1), CROP_MARGIN * (y2 - y1)
        left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
        right, bottom = min(width, int(np.ceil(x2 + pad_x))), min(height, int(np.ceil(y2 + pad_y)))
        if right - left < 2 or bottom - top < 2:
            return
        crop = image[top:bottom, left:right]
        if crop.shape[0] > CROP_HEIGHT:
            scale = CROP_HEIGHT / crop.shape[0]
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), CROP_HEIGHT))
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            self._crops[track_id] = (jpeg.tobytes(), (left, top, right, bottom, width, height))

    def finish(self) -> list[TrackSummary]:
        """End of stream: the summaries of every track still open."""
        summaries = self._summarise(self._tracks.ids.copy())
        self._tracks.remove(np.ones(len(self._tracks), dtype=bool))
        self._crops.clear()
        return summaries

    def _summarise(self, ids: np.ndarray) -> list[TrackSummary]:
        """Summaries of these tracks from their logged samples, which are then dropped."""
        if len(ids) == 0 or not self._log:
            return []
        log = np.concatenate(self._log)
        mine = np.isin(log[:, 0].astype(np.int64), ids)
        self._log = [log[~mine]]
        taken = log[mine]
        taken = taken[np.lexsort((taken[:, 1], taken[:, 0]))]  # by track, then time
        rows, _ = self._tracks.lookup(ids)
        winners = self._tracks["votes"][rows].argmax(axis=1)
        class_of = dict(zip(ids.tolist(), winners.tolist(), strict=True))
        starts = np.flatnonzero(np.diff(taken[:, 0], prepend=np.nan) != 0)
        return [
            self._summary(int(samples[0, 0]), class_of[int(samples[0, 0])], samples[:, 1:])
            for samples in np.split(taken, starts[1:])
            if len(samples)
        ]

    def _summary(self, track_id: int, class_id: int, samples: np.ndarray) -> TrackSummary:
        """The summary of one track from its (n, 3) samples: t, x px, y px."""
        t, xy = samples[:, 0], samples[:, 1:3]
        width, height = self._frame_size
        dt = np.diff(t, append=t[-1])  # each sample stands for the time until the next
        zones = {}
        for name, zone in self.zones.items():
            inside = zone.contains(xy)
            if inside.any():
                zones[name] = round(float(dt[inside].sum()), 3)
        crossings: list[tuple[str, str, float]] = []
        for name, line in self.lines.items():
            crossed, direction = line.crossings(xy[:-1], xy[1:])
            for i in np.flatnonzero(crossed):
                way = "in" if direction[i] > 0 else "out"
                crossings.append((name, way, round(float(t[i + 1] - t[0]), 3)))
        crossings.sort(key=lambda crossing: crossing[2])
        path = np.column_stack([t - t[0], xy[:, 0] / width, xy[:, 1] / height])
        name = self.class_names[class_id] if class_id < len(self.class_names) else str(class_id)
        crop, crop_box = self._crops.get(track_id, (None, None))
        return TrackSummary(
            source=self.source,
            track_id=track_id,
            class_name=name,
            first_time=float(t[0]),
            last_time=float(t[-1]),
            path=thin(path).astype(np.float32),
            zones=zones,
            lines=crossings,
            speed_kmh=self._top_speed(t, xy),
            crop=crop,
            crop_box=crop_box,
        )

    def _top_speed(self, t: np.ndarray, xy: np.ndarray) -> float | None:
        """The highest speed over about `SPEED_BASELINE_SECONDS` between two samples in the
        same calibrated zone, in km/h; None when no such pair exists."""
        lag = max(1, round(SPEED_BASELINE_SECONDS / SAMPLE_SECONDS))
        if len(t) <= lag:
            return None
        best: float | None = None
        for zone in self.zones.values():
            plane = zone.ground_plane()
            if plane is None:
                continue
            inside = zone.contains(xy)
            pair = inside[lag:] & inside[:-lag]
            if not pair.any():
                continue
            metres = plane.to_metres(xy)
            distance = np.linalg.norm(metres[lag:] - metres[:-lag], axis=1)
            elapsed = t[lag:] - t[:-lag]
            speeds = distance[pair] / elapsed[pair] * MS_TO_KMH
            if np.isfinite(speeds).any():
                top = float(np.nanmax(speeds))
                best = top if best is None else max(best, top)
        return None if best is None else round(best, 1)
