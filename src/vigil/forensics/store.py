"""`TrackStore`: track summaries in the database, and forensic search over them.

A search is SQL first, geometry second. SQL narrows by camera, time (a summary spans at most
`MAX_SUMMARY_SECONDS`, so ``first_time`` alone bounds the index range), class, top speed and
the bounding box of the path against the drawn polygon's or line's (the spatial prefilter);
numpy then tests the candidates' paths exactly, all at once: which points lie in the
polygon (and for how long), which path segments cross the polygon's edges or the line, and
which way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import defer

from vigil.db.database import Database, delete_in_batches
from vigil.db.fencing import split_fenced
from vigil.db.schema import TrackRow
from vigil.forensics.summary import MAX_SUMMARY_SECONDS, TrackSummary
from vigil.geometry.shapes import Line, points_in_polygon

Point = tuple[float, float]


@dataclass(frozen=True)
class TrackQuery:
    """What to look for. Coordinates are normalised to the frame (0..1); times are seconds
    on the cameras' timeline."""

    start: float
    end: float
    sources: Sequence[str] | None = None
    """Cameras; None: all."""
    classes: Sequence[str] | None = None
    """Class names; None: all."""
    polygon: Sequence[Point] | None = None
    """The track passed through this area."""
    line: tuple[Point, Point] | None = None
    """The track crossed this line (start -> end; "in" is left to right, as `Line`)."""
    direction: str | None = None
    """With `line`: only crossings this way ("in" or "out")."""
    min_dwell: float | None = None
    """Seconds in the polygon at least (without one: in any zone, or on screen)."""
    min_speed: float | None = None
    """Top speed at least, km/h."""
    limit: int = 100


@dataclass(frozen=True)
class TrackHit:
    """One track found, and the moment to play: when it entered the polygon or crossed the
    line (its first sighting otherwise)."""

    id: int
    source: str
    track_id: int
    class_name: str
    first_time: float
    last_time: float
    moment: float
    dwell: float
    speed_kmh: float | None
    path: list[tuple[float, float, float]]
    """(time, x, y) points, times on the camera's timeline, x and y normalised."""
    has_crop: bool = False
    """A crop of the object is stored (`TrackStore.crop`)."""


def encode_path(path: np.ndarray) -> bytes:
    return np.ascontiguousarray(path, dtype="<f4").tobytes()


def decode_path(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").reshape(-1, 3)


def _row(summary: TrackSummary, node: str | None) -> dict[str, object]:
    x0, y0, x1, y1 = summary.bounds
    return {
        "source": summary.source,
        "track_id": summary.track_id,
        "class_name": summary.class_name,
        "first_time": summary.first_time,
        "last_time": summary.last_time,
        "min_x": x0,
        "min_y": y0,
        "max_x": x1,
        "max_y": y1,
        "path": encode_path(summary.path),
        "zones": summary.zones,
        "lines": [list(crossing) for crossing in summary.lines],
        "dwell": summary.dwell,
        "speed_kmh": summary.speed_kmh,
        "node": node,
        "crop": summary.crop,
        "crop_box": None if summary.crop_box is None else list(summary.crop_box),
    }


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether segments a→b cross segments c→d, broadcast over leading axes."""

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        value: np.ndarray = (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (
            q[..., 1] - p[..., 1]
        ) * (r[..., 0] - p[..., 0])
        return value

    crossing: np.ndarray = (orient(a, b, c) * orient(a, b, d) <= 0) & (
        orient(c, d, a) * orient(c, d, b) <= 0
    )
    return crossing


class TrackStore:
    """Track summaries of one database."""

    def __init__(self, database: Database):
        self.database = database

    def add(
        self,
        summaries: Iterable[TrackSummary],
        node: str | None = None,
        fence: Mapping[str, int] | None = None,
    ) -> list[TrackSummary]:
        """Store summaries in one transaction; returns those refused by `fence` (camera ->
        the writer's lease epoch, on a cluster node; see `vigil.db.fencing`)."""
        batch = list(summaries)
        if not batch:
            return []
        with self.database.write() as session:
            allowed, refused = split_fenced(session, batch, lambda s: s.source, fence)
            if allowed:
                session.execute(insert(TrackRow), [_row(s, node) for s in allowed])
        return refused

    def delete_before(self, cutoff: float, batch: int = 5000, source: str | None = None) -> int:
        """Forget the summaries of tracks last seen before `cutoff` (of `source`, or of
        all), `batch` rows per transaction; returns how many."""
        older = TrackRow.last_time < float(cutoff)
        if source is not None:
            older = older & (TrackRow.source == source)
        return delete_in_batches(self.database, TrackRow.id, older, batch)

    def search(self, query: TrackQuery) -> list[TrackHit]:
        """The tracks matching `query`, earliest moment first, at most ``query.limit``."""
        rows = self._candidates(query)
        if not rows:
            return []
        paths = [decode_path(row.path) for row in rows]
        lengths = np.fromiter((len(p) for p in paths), dtype=np.intp, count=len(paths))
        points = np.concatenate(paths).astype(np.float64)
        owner = np.repeat(np.arange(len(rows)), lengths)
        first = np.asarray([row.first_time for row in rows])
        times = first[owner] + points[:, 0]
        keep = np.ones(len(rows), dtype=bool)
        moment = first.copy()
        dwell = np.asarray([row.dwell for row in rows])
        same_track = np.zeros(len(points), dtype=bool)  # segment i -> i+1 within one path
        same_track[:-1] = owner[:-1] == owner[1:]
        if query.polygon is not None:
            keep, moment, dwell = self._through_polygon(query, points, owner, times, same_track)
        if query.line is not None:
            crossed, at = self._across_line(query, points, owner, times, same_track)
            keep &= crossed
            moment = np.where(query.polygon is None, at, moment)
        if query.min_dwell is not None:
            keep &= dwell >= query.min_dwell
        in_range = (moment >= query.start) & (moment <= query.end)
        hits = [
            TrackHit(
                id=row.id,
                source=row.source,
                track_id=row.track_id,
                class_name=row.class_name,
                first_time=row.first_time,
                last_time=row.last_time,
                moment=float(moment[i]),
                dwell=round(float(dwell[i]), 3),
                speed_kmh=row.speed_kmh,
                path=[
                    (round(row.first_time + float(t), 3), float(x), float(y))
                    for t, x, y in paths[i]
                ],
                has_crop=row.crop_box is not None,
            )
            for i, row in enumerate(rows)
            if keep[i] and (in_range[i] or query.polygon is None and query.line is None)
        ]
        hits.sort(key=lambda hit: hit.moment)
        return hits[: query.limit]

    def crop(self, track: int) -> tuple[str, str, bytes, list[int]] | None:
        """A stored summary's camera, class, crop JPEG and crop box; None without a crop."""
        stmt = select(TrackRow.source, TrackRow.class_name, TrackRow.crop, TrackRow.crop_box)
        with self.database.read() as session:
            row = session.execute(stmt.where(TrackRow.id == track)).first()
        if row is None or row.crop is None or row.crop_box is None:
            return None
        return row.source, row.class_name, bytes(row.crop), list(row.crop_box)

    def _candidates(self, query: TrackQuery) -> list[TrackRow]:
        """Rows that may match: SQL over the indexed columns and the path's bounding box."""
        stmt = (
            select(TrackRow)
            .options(defer(TrackRow.crop))
            .where(
                TrackRow.first_time >= query.start - MAX_SUMMARY_SECONDS,
                TrackRow.first_time <= query.end,
                TrackRow.last_time >= query.start,
            )
        )
        if query.sources is not None:
            stmt = stmt.where(TrackRow.source.in_(list(query.sources)))
        if query.classes is not None:
            stmt = stmt.where(TrackRow.class_name.in_(list(query.classes)))
        if query.min_speed is not None:
            stmt = stmt.where(TrackRow.speed_kmh >= query.min_speed)
        if query.min_dwell is not None:
            # a track's duration bounds any dwell of it from above
            stmt = stmt.where(TrackRow.last_time - TrackRow.first_time >= query.min_dwell)
        for shape in (query.polygon, query.line):
            if shape is None:
                continue
            xy = np.asarray(shape, dtype=np.float64).reshape(-1, 2)
            (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
            stmt = stmt.where(
                TrackRow.max_x >= float(x0),
                TrackRow.min_x <= float(x1),
                TrackRow.max_y >= float(y0),
                TrackRow.min_y <= float(y1),
            )
        with self.database.read() as session:
            return list(session.scalars(stmt))

    @staticmethod
    def _through_polygon(
        query: TrackQuery,
        points: np.ndarray,
        owner: np.ndarray,
        times: np.ndarray,
        same_track: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per candidate: passed through the polygon (a point inside or a segment crossing
        an edge), when it first did, and the seconds it spent inside."""
        n = int(owner.max()) + 1
        polygon = np.asarray(query.polygon, dtype=np.float64).reshape(-1, 2)
        inside = points_in_polygon(points[:, 1:3], polygon)
        edges_a, edges_b = polygon, np.roll(polygon, -1, axis=0)
        seg_a, seg_b = points[:-1, None, 1:3], points[1:, None, 1:3]
        crosses = np.zeros(len(points), dtype=bool)  # marked at the segment's end
        crosses[1:] = _segments_cross(seg_a, seg_b, edges_a, edges_b).any(axis=1) & same_track[:-1]
        touched = inside | crosses
        passed = np.bincount(owner, weights=touched, minlength=n) > 0
        first_touch = np.full(n, np.inf)
        np.minimum.at(first_touch, owner[touched], times[touched])
        dt = np.where(same_track, np.diff(times, append=times[-1]), 0.0)
        dwell = np.bincount(owner, weights=dt * inside, minlength=n)
        return passed, first_touch, dwell

    @staticmethod
    def _across_line(
        query: TrackQuery,
        points: np.ndarray,
        owner: np.ndarray,
        times: np.ndarray,
        same_track: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: crossed the line (the wanted way), and when it first did."""
        assert query.line is not None
        n = int(owner.max()) + 1
        line = Line("search", query.line[0], query.line[1], normalized=False)
        crossed, direction = line.crossings(points[:-1, 1:3], points[1:, 1:3])
        hit = crossed & same_track[:-1]
        if query.direction is not None:
            hit &= direction == (1 if query.direction == "in" else -1)
        segment_owner, segment_time = owner[:-1], times[1:]
        found = np.bincount(segment_owner, weights=hit, minlength=n) > 0
        first = np.full(n, np.inf)
        np.minimum.at(first, segment_owner[hit], segment_time[hit])
        return found, first
