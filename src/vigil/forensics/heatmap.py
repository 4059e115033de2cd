"""Heat maps and dwell times of one camera, aggregated from the stored track summaries
(`vigil.forensics.store`): anonymous by construction, only where objects were and for how
long.

`occupancy` is an occupancy heat map: the seconds objects' ground points (the anchors the
summaries log) spent in each cell of a grid over the frame. Each path sample stands for the
time until the track's next sample (as `TrackSummary.zones` counts it), clipped to the
asked time range, so a person standing still for a minute weighs a minute wherever the
path was thinned. `dwell` is, per zone, the distribution of the seconds tracks spent in it
(`TrackSummary.zones`), of the tracks that ended in the range: each counted once, whatever
the ranges asked.

Both read only the columns they need, SQL-filtered by camera, time (a summary spans at most
`MAX_SUMMARY_SECONDS`, so ``first_time`` bounds the indexed range) and class, in batches of
`BATCH_ROWS` rows; numpy does the rest per batch, all rows at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from sqlalchemy import ColumnElement, Row, select

from vigil.db.database import Database
from vigil.db.schema import TrackRow
from vigil.forensics.summary import MAX_SUMMARY_SECONDS

__all__ = [
    "BATCH_ROWS",
    "DWELL_EDGES",
    "GRID_COLUMNS",
    "DwellDistribution",
    "Heatmap",
    "dwell",
    "grid_shape",
    "heatmap_png",
    "occupancy",
]

GRID_COLUMNS = 64
"""Heat-map cells across the frame; rows follow the frame's aspect (`grid_shape`)."""
BATCH_ROWS = 20_000
"""Summaries read and aggregated at a time."""
DWELL_EDGES = (0.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Dwell histogram buckets, seconds: [0, 5), [5, 10), ..., [3600, ∞)."""


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Seconds spent per cell: ``grid[row, column]``, row 0 at the top of the frame."""

    grid: np.ndarray
    tracks: int
    """Summaries that added time to the grid."""

    @property
    def peak(self) -> float:
        return float(self.grid.max(initial=0.0))


@dataclass(frozen=True)
class DwellDistribution:
    """The seconds tracks spent in one zone."""

    zone: str
    count: int
    p50: float
    p90: float
    max: float
    mean: float
    buckets: list[int]
    """Tracks per `DWELL_EDGES` bucket."""


def grid_shape(frame_size: tuple[int, int] | None, columns: int = GRID_COLUMNS) -> tuple[int, int]:
    """``(rows, columns)`` of square cells for a ``(width, height)`` frame (16:9 unknown)."""
    width, height = frame_size if frame_size else (16, 9)
    return max(1, round(columns * height / width)), columns


def _batches(
    database: Database,
    columns: Sequence[Any],  # mapped columns of TrackRow
    source: str,
    start: float,
    end: float,
    classes: Sequence[str] | None,
    batch: int,
    *conditions: ColumnElement[bool],
) -> Iterator[Sequence[Row]]:
    """`columns` of the camera's summaries overlapping [start, end], `batch` rows at a time."""
    stmt = select(*columns).where(
        TrackRow.source == source,
        TrackRow.first_time >= start - MAX_SUMMARY_SECONDS,
        TrackRow.first_time <= end,
        TrackRow.last_time >= start,
        *conditions,
    )
    if classes is not None:
        stmt = stmt.where(TrackRow.class_name.in_(list(classes)))
    with database.read() as session:
        # Core rows, streamed: the ORM's per-row bookkeeping would double the time
        connection = session.connection().execution_options(yield_per=batch)
        yield from connection.execute(stmt).partitions()


def occupancy(
    database: Database,
    source: str,
    start: float,
    end: float,
    classes: Sequence[str] | None = None,
    shape: tuple[int, int] = (36, GRID_COLUMNS),
    batch: int = BATCH_ROWS,
) -> Heatmap:
    """The seconds objects (of `classes`; None: all) of camera `source` spent in each cell
    of a `shape` (rows, columns) grid between `start` and `end`."""
    rows, columns = shape
    total = np.zeros(rows * columns)
    tracks = 0
    for chunk in _batches(
        database, (TrackRow.first_time, TrackRow.path), source, start, end, classes, batch
    ):
        firsts, blobs = zip(*chunk, strict=True)
        lengths = np.fromiter(map(len, blobs), dtype=np.intp, count=len(blobs)) // 12
        points = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, 3)
        owner = np.repeat(np.arange(len(blobs)), lengths)
        times = np.asarray(firsts, dtype=np.float64)[owner] + points[:, 0]
        # each sample lasts until its track's next one; a track's last sample has no length
        following = np.append(times[1:], np.inf)
        following[np.append(owner[1:] != owner[:-1], True)] = 0.0
        weight = np.clip(np.minimum(following, end) - np.maximum(times, start), 0.0, None)
        column = np.clip((points[:, 1] * columns).astype(np.intp), 0, columns - 1)
        row = np.clip((points[:, 2] * rows).astype(np.intp), 0, rows - 1)
        total += np.bincount(row * columns + column, weights=weight, minlength=rows * columns)
        tracks += int(np.count_nonzero(np.bincount(owner, weights=weight, minlength=len(blobs))))
    return Heatmap(grid=total.reshape(rows, columns), tracks=tracks)


def dwell(
    database: Database,
    source: str,
    start: float,
    end: float,
    classes: Sequence[str] | None = None,
    batch: int = BATCH_ROWS,
) -> list[DwellDistribution]:
    """Per zone (by name), the distribution of the seconds spent in it by the tracks (of
    `classes`; None: all) of camera `source` that ended between `start` and `end`."""
    seconds: dict[str, list[float]] = {}
    for chunk in _batches(
        database,
        (TrackRow.zones,),
        source,
        start,
        end,
        classes,
        batch,
        TrackRow.last_time < end,
    ):
        for (zones,) in chunk:
            for zone, inside in zones.items():
                seconds.setdefault(zone, []).append(inside)
    edges = np.append(DWELL_EDGES, np.inf)
    out = []
    for zone in sorted(seconds):
        values = np.asarray(seconds[zone], dtype=np.float64)
        p50, p90 = np.percentile(values, [50, 90])
        out.append(
            DwellDistribution(
                zone=zone,
                count=len(values),
                p50=round(float(p50), 3),
                p90=round(float(p90), 3),
                max=round(float(values.max()), 3),
                mean=round(float(values.mean()), 3),
                buckets=np.histogram(values, bins=edges)[0].tolist(),
            )
        )
    return out


def heatmap_png(grid: np.ndarray, size: tuple[int, int]) -> bytes:
    """`grid` as a colour-mapped PNG of ``(width, height)`` `size` to lay over the frame:
    transparent where no time was spent, blue to red up to the busiest cell. The colour
    follows the square root of the time, so a path walked once still shows beside a bench
    sat on for an hour."""
    peak = float(grid.max(initial=0.0))
    level = np.sqrt(grid / peak) if peak > 0 else np.zeros_like(grid)
    smooth = np.clip(
        cv2.resize(level.astype(np.float32), size, interpolation=cv2.INTER_LINEAR), 0, 1
    )
    value = np.round(smooth * 255).astype(np.uint8)
    colour = cv2.applyColorMap(value, cv2.COLORMAP_JET)
    alpha = np.where(value > 0, 90 + value.astype(np.uint16) * 140 // 255, 0).astype(np.uint8)
    _, png = cv2.imencode(".png", np.dstack([colour, alpha]))
    return bytes(png)
