"""A camera's heat map and dwell times (viewer, camera-restricted), aggregated from the stored
track summaries by `vigil.forensics.heatmap`: anonymous aggregates, no picture of anyone.

- ``GET /api/cameras/{id}/heatmap.png``: seconds spent per cell, colour-mapped, transparent
  where nobody was, the size of the camera's frame, to lay over ``frame.jpg``;
- ``GET /api/cameras/{id}/heatmap.json``: the same grid as numbers, with its scale;
- ``GET /api/cameras/{id}/dwell``: per zone, the distribution of the seconds tracks spent in
  it (count, p50, p90, max, mean, histogram).

Each takes ``start`` and ``end`` (default: the last 24 hours) and ``class`` (repeatable;
default: every class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from vigil.api.deps import Events, State, Viewer, camera_or_404
from vigil.api.routes.search import MAX_RANGE_S
from vigil.api.schemas import ERROR_RESPONSES, Timestamp, bad_param
from vigil.forensics.heatmap import (
    DWELL_EDGES,
    GRID_COLUMNS,
    Heatmap,
    dwell,
    grid_shape,
    heatmap_png,
    occupancy,
)

__all__ = ["router"]

DEFAULT_RANGE_S = 86400.0
CELL_PX = 10  # PNG pixels per cell before the camera has sent a frame

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

Start = Annotated[Timestamp | None, Query(description="Default: 24 hours before `end`.")]
End = Annotated[Timestamp | None, Query(description="Default: now.")]
Classes = Annotated[
    list[str] | None, Query(alias="class", description="Class names (repeat); default: all.")
]
Columns = Annotated[
    int, Query(ge=4, le=256, description="Cells across; rows follow the frame's aspect.")
]


class HeatmapOut(BaseModel):
    camera: str
    start: float
    end: float
    classes: list[str] | None
    rows: int
    columns: int
    unit: str = Field("seconds", description="what a cell holds: seconds objects spent in it")
    peak: float = Field(description="the busiest cell's seconds: the top of the colour scale")
    total: float
    tracks: int
    grid: list[list[float]] = Field(description="rows top to bottom, columns left to right")


class ZoneDwellOut(BaseModel):
    zone: str
    count: int = Field(description="tracks that visited the zone and ended in the range")
    p50: float
    p90: float
    max: float
    mean: float
    buckets: list[int] = Field(description="tracks per bucket of `bucket_edges`")


class DwellOut(BaseModel):
    camera: str
    start: float
    end: float
    classes: list[str] | None
    bucket_edges: list[float] = Field(description="seconds; the last bucket has no end")
    zones: list[ZoneDwellOut]


@dataclass(frozen=True)
class _Asked:
    """Whose and which time: the camera (one the user may see) and the range."""

    camera: str
    start: float
    end: float
    classes: list[str] | None


def _asked(
    camera_id: str,
    _: Viewer,
    state: State,
    start: Start = None,
    end: End = None,
    classes: Classes = None,
) -> _Asked:
    camera_or_404(state, camera_id)
    end = state.clock() if end is None else end
    start = end - DEFAULT_RANGE_S if start is None else start
    if end <= start:
        raise bad_param("end", "end must be after start", end)
    if end - start > MAX_RANGE_S:
        raise bad_param("start", "a range spans at most 31 days", start)
    return _Asked(camera_id, start, end, classes)


Asked = Annotated[_Asked, Depends(_asked)]


@dataclass(frozen=True)
class _Computed:
    asked: _Asked
    heat: Heatmap
    frame_size: tuple[int, int] | None

    def out(self) -> HeatmapOut:
        rows, columns = self.heat.grid.shape
        return HeatmapOut(
            camera=self.asked.camera,
            start=self.asked.start,
            end=self.asked.end,
            classes=self.asked.classes,
            rows=rows,
            columns=columns,
            peak=round(self.heat.peak, 3),
            total=round(float(self.heat.grid.sum()), 3),
            tracks=self.heat.tracks,
            grid=self.heat.grid.round(3).tolist(),
        )


def _heatmap(
    asked: Asked, state: State, events: Events, columns: Columns = GRID_COLUMNS
) -> _Computed:
    """The heat map a request asks for, on a grid of the camera's frame aspect."""
    frame = state.raw_frame(asked.camera)
    frame_size = None if frame is None else (frame.width, frame.height)
    shape = grid_shape(frame_size, columns)
    heat = occupancy(events.database, asked.camera, asked.start, asked.end, asked.classes, shape)
    return _Computed(asked, heat, frame_size)


Computed = Annotated[_Computed, Depends(_heatmap)]


@router.get("/api/cameras/{camera_id}/heatmap.json", response_model=HeatmapOut)
def heatmap_json(computed: Computed) -> HeatmapOut:
    """Seconds objects' ground points spent in each cell of a grid over the frame."""
    return computed.out()


@router.get(
    "/api/cameras/{camera_id}/heatmap.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **ERROR_RESPONSES},
)
def heatmap_image(computed: Computed) -> Response:
    """The heat map as a PNG the size of the camera's frame: transparent where nobody was,
    blue to red up to the busiest cell (``X-Heatmap-Peak``: its seconds;
    ``X-Heatmap-Tracks``: the tracks counted)."""
    rows, columns = computed.heat.grid.shape
    size = computed.frame_size or (columns * CELL_PX, rows * CELL_PX)
    return Response(
        heatmap_png(computed.heat.grid, size),
        media_type="image/png",
        headers={
            "Cache-Control": "no-store",
            "X-Heatmap-Peak": f"{computed.heat.peak:.3f}",
            "X-Heatmap-Tracks": str(computed.heat.tracks),
        },
    )


@router.get("/api/cameras/{camera_id}/dwell", response_model=DwellOut)
def dwell_times(asked: Asked, events: Events) -> DwellOut:
    """Per zone, how long the tracks that ended in the range spent in it."""
    zones = dwell(events.database, asked.camera, asked.start, asked.end, asked.classes)
    return DwellOut(
        camera=asked.camera,
        start=asked.start,
        end=asked.end,
        classes=asked.classes,
        bucket_edges=list(DWELL_EDGES),
        zones=[ZoneDwellOut(**vars(zone)) for zone in zones],
    )
