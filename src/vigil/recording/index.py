"""`SegmentIndex`: the recording segments of every camera in Vigil's database.

One row per finished segment file (`vigil.db.schema.SegmentRow`, table ``segments``). Times are wall clock (seconds since
the epoch, as in `SegmentInfo`); a missing stretch of footage is simply the absence of
rows, which `gaps()` reports.

In a cluster each row names the node whose disk holds the file (`Segment.node`). A node's
index (`SegmentIndex(database, node)`) sees, counts and deletes only that node's rows, so
its retention touches only its own files, and its writes are fenced by its camera leases
(`vigil.db.fencing`); the head's index (node None) sees every node's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Delete, Integer, Select, case, cast, delete, func, select

from vigil.db.database import Database, in_chunks
from vigil.db.fencing import split_fenced
from vigil.db.schema import SegmentRow, utcnow
from vigil.recording.segments import SegmentInfo

__all__ = ["MAX_SEGMENT_SECONDS", "ActivityBucket", "Segment", "SegmentIndex"]

#: Range queries look this far before a range's start for segments overlapping it (so they
#: can use the (camera, start_time) index). The segmenter cuts at the first keyframe after
#: its segment length, so only a camera with a keyframe interval over an hour exceeds it.
MAX_SEGMENT_SECONDS = 3600.0
_Statement = TypeVar("_Statement", Select[Any], Delete)


@dataclass(frozen=True, slots=True)
class Segment:
    """A row of the index, detached from the database."""

    id: int
    camera: str
    path: str
    start_time: float
    end_time: float
    size_bytes: int
    motion: bool
    objects: bool
    created_at: datetime | None = None
    node: str | None = None
    """The cluster node whose disk holds the file; None on a single box."""

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time

    @classmethod
    def from_row(cls, row: SegmentRow) -> Segment:
        return cls(
            id=row.id,
            camera=row.camera,
            path=row.path,
            start_time=row.start_time,
            end_time=row.end_time,
            size_bytes=row.size_bytes,
            motion=bool(row.motion),
            objects=bool(row.objects),
            created_at=row.created_at,
            node=row.node,
        )


def _any(flag: Any) -> Any:
    """1 when the boolean column is true in a row of the group (PostgreSQL has no MAX of
    booleans)."""
    return func.max(case((flag, 1), else_=0))


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    """What one camera recorded in one bucket of a range (`SegmentIndex.activity`): the
    footage of the segments starting in it (those overlapping the range's start fall in
    the first), clipped to the range."""

    index: int  # the bucket's number from the range's start
    first: float  # the earliest footage of its segments (clipped to the range)
    last: float  # the latest
    recorded_s: float  # seconds of footage
    segments: int
    motion: bool  # a segment of it saw motion
    objects: bool  # a segment of it saw objects


class SegmentIndex:
    """Segments in the `Database` (which stays open: close it when done): those of `node`
    (a cluster node's name), or with `node` None every segment (a single box, the head)."""

    def __init__(self, database: Database, node: str | None = None) -> None:
        self.database = database
        self.node = node

    def __repr__(self) -> str:
        return f"SegmentIndex({str(self.database)!r}, node={self.node!r})"

    # ---------------------------------------------------------------- writing

    def add(self, info: SegmentInfo, *, epoch: int | None = None) -> Segment | None:
        """Index a finished segment. A path already indexed is updated, not duplicated
        (so recovered segments can be added again safely). With `epoch` (the lease epoch
        the camera runs under on this node) it is indexed only while the camera's lease is
        at that epoch: None when refused."""
        fence = None if epoch is None else {info.camera: epoch}
        added = self.add_many([info], fence=fence)
        return added[0] if added else None

    def add_many(
        self, infos: Iterable[SegmentInfo], *, fence: Mapping[str, int] | None = None
    ) -> list[Segment]:
        """Index several segments in one transaction (see `add`), stamped with this
        index's node; with `fence` (camera -> lease epoch) those whose camera's lease is
        at another epoch are refused (left out of the result, nothing of them stored)."""
        batch = list(infos)
        if not batch:
            return []
        with self.database.write() as session:
            allowed, _ = split_fenced(session, batch, lambda info: info.camera, fence)
            existing: dict[str, SegmentRow] = {}
            paths = list(dict.fromkeys(i.path for i in allowed))
            for chunk in in_chunks(paths):
                found = select(SegmentRow).where(SegmentRow.path.in_(chunk))
                for stored in session.scalars(found):
                    existing[stored.path] = stored
            rows = []
            for info in allowed:
                row = existing.get(info.path)
                if row is None:
                    row = SegmentRow(path=info.path, created_at=utcnow(), node=self.node)
                    session.add(row)
                    existing[info.path] = row
                elif self.node is not None:
                    row.node = self.node
                row.camera = info.camera
                row.start_time = float(info.start_time)
                row.end_time = float(info.end_time)
                row.size_bytes = int(info.size_bytes)
                row.motion = bool(info.motion)
                row.objects = bool(info.objects)
                rows.append(row)
            session.flush()
            return [Segment.from_row(row) for row in rows]

    def delete(self, ids: Iterable[int]) -> int:
        """Remove rows (not files); returns how many were removed."""
        unique = list(dict.fromkeys(int(i) for i in ids))
        removed = 0
        if not unique:
            return 0
        with self.database.write() as session:
            for chunk in in_chunks(unique):
                stmt = self._scoped(delete(SegmentRow).where(SegmentRow.id.in_(chunk)))
                result = session.execute(stmt)
                removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    # ---------------------------------------------------------------- reading

    def get(self, segment_id: int) -> Segment | None:
        found = self._segments(select(SegmentRow).where(SegmentRow.id == int(segment_id)))
        return found[0] if found else None

    def between(self, camera: str, start: float, end: float) -> list[Segment]:
        """Segments of `camera` overlapping [start, end), ordered by start time."""
        stmt = (
            select(SegmentRow)
            .where(
                SegmentRow.camera == camera,
                SegmentRow.start_time < float(end),
                SegmentRow.start_time >= float(start) - MAX_SEGMENT_SECONDS,
                SegmentRow.end_time > float(start),
            )
            .order_by(SegmentRow.start_time, SegmentRow.id)
        )
        return self._segments(stmt)

    def activity(
        self, camera: str, start: float, end: float, bucket_s: float
    ) -> list[ActivityBucket]:
        """The footage of `camera` in [start, end) summed per `bucket_s` seconds, by the
        database: a week of 2 s segments comes back as a few hundred rows, not 300,000.
        Buckets without footage are left out; ordered by time."""
        start, end = float(start), float(end)
        begin = case((SegmentRow.start_time < start, start), else_=SegmentRow.start_time)
        finish = case((SegmentRow.end_time > end, end), else_=SegmentRow.end_time)
        offset = (begin - start) / float(bucket_s)
        # CAST truncates in SQLite (the offset is >= 0: floor) but rounds in PostgreSQL.
        bucket = cast(
            func.floor(offset) if self.database.backend == "postgresql" else offset, Integer
        )
        stmt = self._scoped(
            select(
                bucket.label("bucket"),
                func.min(begin),
                func.max(finish),
                func.sum(finish - begin),
                func.count(),
                _any(SegmentRow.motion),
                _any(SegmentRow.objects),
            ).where(
                SegmentRow.camera == camera,
                SegmentRow.start_time < end,
                SegmentRow.start_time >= start - MAX_SEGMENT_SECONDS,
                SegmentRow.end_time > start,
            )
        )
        stmt = stmt.group_by("bucket").order_by("bucket")
        with self.database.read() as session:
            rows = session.execute(stmt).all()
        return [
            ActivityBucket(int(i), float(a), float(b), float(s), int(n), bool(m), bool(o))
            for i, a, b, s, n, m, o in rows
        ]

    def gaps(
        self,
        camera: str,
        start: float,
        end: float,
        *,
        min_gap: float = 1.5,
        edges: bool = False,
    ) -> list[tuple[float, float]]:
        """Stretches of [start, end) longer than `min_gap` seconds without footage of
        `camera` between consecutive segments (a lost stream, a stopped service).

        With `edges`, a missing stretch before the first and after the last segment of the
        range counts too (the whole range when there is no segment).
        """
        holes: list[tuple[float, float]] = []
        covered: float | None = float(start) if edges else None
        for seg in self.between(camera, start, end):
            if covered is not None and seg.start_time - covered > min_gap:
                holes.append((covered, seg.start_time))
            covered = seg.end_time if covered is None else max(covered, seg.end_time)
        if edges:
            tail = float(start) if covered is None else covered
            if float(end) - tail > min_gap:
                holes.append((tail, float(end)))
        return holes

    def oldest(
        self,
        camera: str | None = None,
        *,
        limit: int | None = 100,
        after: tuple[float, int] | None = None,
        ended_before: float | None = None,
        active: bool | None = None,
    ) -> list[Segment]:
        """Segments ordered oldest first (start time, then id).

        `after` is the (start_time, id) of the last segment of the previous page (keyset
        paging); `ended_before` keeps segments that ended before that time; `active` True
        keeps segments with motion or objects, False those with neither.
        """
        stmt = select(SegmentRow)
        if camera is not None:
            stmt = stmt.where(SegmentRow.camera == camera)
        if after is not None:
            t, i = after
            stmt = stmt.where(
                (SegmentRow.start_time > t) | ((SegmentRow.start_time == t) & (SegmentRow.id > i))
            )
        if ended_before is not None:
            stmt = stmt.where(SegmentRow.end_time < float(ended_before))
        if active is not None:
            flag = SegmentRow.motion | SegmentRow.objects
            stmt = stmt.where(flag if active else ~flag)
        stmt = stmt.order_by(SegmentRow.start_time, SegmentRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._segments(stmt)

    def iter_oldest(
        self, camera: str | None = None, *, batch: int = 1000, **filters: Any
    ) -> Iterator[Segment]:
        """All segments `oldest()` would return, fetched `batch` rows at a time."""
        after: tuple[float, int] | None = None
        while True:
            page = self.oldest(camera, limit=batch, after=after, **filters)
            yield from page
            if len(page) < batch:
                return
            after = (page[-1].start_time, page[-1].id)

    def total_bytes(self, camera: str | None = None) -> int:
        """Size of the indexed segments, of one camera or of all."""
        stmt = select(func.coalesce(func.sum(SegmentRow.size_bytes), 0))
        if camera is not None:
            stmt = stmt.where(SegmentRow.camera == camera)
        with self.database.read() as session:
            return int(session.scalar(self._scoped(stmt)) or 0)

    def count(self, camera: str | None = None) -> int:
        stmt = select(func.count()).select_from(SegmentRow)
        if camera is not None:
            stmt = stmt.where(SegmentRow.camera == camera)
        with self.database.read() as session:
            return int(session.scalar(self._scoped(stmt)) or 0)

    def cameras(self) -> list[str]:
        """Cameras with at least one indexed segment."""
        stmt = self._scoped(select(SegmentRow.camera).distinct().order_by("camera"))
        with self.database.read() as session:
            return list(session.scalars(stmt))

    def _segments(self, stmt: Select[Any]) -> list[Segment]:
        with self.database.read() as session:
            return [Segment.from_row(row) for row in session.scalars(self._scoped(stmt))]

    def _scoped(self, stmt: _Statement) -> _Statement:
        """`stmt` limited to this index's node's rows (all rows without a node)."""
        return stmt if self.node is None else stmt.where(SegmentRow.node == self.node)
