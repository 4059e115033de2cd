"""``GET /api/counts``: line crossings and occupancy as time series over the same buckets,
aggregated by the database (`EventStore.crossing_counts`, `occupancy_buckets`)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query

from vigil.api.deps import Events, Viewer
from vigil.api.schemas import (
    ERROR_RESPONSES,
    CountsOut,
    CrossingSeries,
    OccupancySeries,
    Timestamp,
    bad_param,
)
from vigil.events.store import EventStore, OccupancyBucket

__all__ = ["MAX_BUCKETS", "compute_counts", "router"]

MAX_BUCKETS = 10_000  # most intervals in one GET /api/counts

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

CrossingKey = tuple[str, str, str | None, str | None, str]  # camera, app, line, class, direction
ZoneKey = tuple[str, str, str | None]  # camera, app, zone


def compute_counts(
    store: EventStore,
    *,
    camera: str | None = None,
    app: str | None = None,
    interval: int = 3600,
    since: float | None = None,
    until: float | None = None,
    cameras: frozenset[str] | None = None,
) -> CountsOut:
    """Line-crossing counts per interval, line, class and direction (from ``line_crossing``
    events) and occupancy per interval (from the ``occupancy`` samples), aggregated by the
    database (indexed, whatever the number of events).

    Buckets start at `since` when given, otherwise at the first event's interval aligned to
    the epoch (so hourly buckets fall on the hour); they end at `until` when given,
    otherwise with the last event. `cameras` (None: all) keeps only those cameras' events.
    Raises ValueError for a range of more than `MAX_BUCKETS` intervals.
    """
    filters: dict[str, Any] = {"source": camera, "app": app, "since": since, "until": until}
    filters["sources"] = cameras
    span = None
    if since is None or until is None:
        span = store.time_range(("line_crossing", "occupancy"), **filters)
    origin, n = _buckets(interval, since, until, span)
    empty = CountsOut(
        interval=interval, since=since, until=until, buckets=[], line_crossings=[], occupancy=[]
    )
    if origin is None or n == 0:
        return empty
    cross: dict[CrossingKey, list[int]] = {}
    for c in store.crossing_counts(origin, interval, n, **filters):
        key = (c.source, c.app, c.line, c.class_name, c.direction)
        cross.setdefault(key, [0] * n)[c.bucket] += c.count
    occ: dict[ZoneKey, list[OccupancyBucket | None]] = {}
    for b in store.occupancy_buckets(origin, interval, n, **filters):
        occ.setdefault((b.source, b.app, b.zone), [None] * n)[b.bucket] = b
    return empty.model_copy(
        update={
            "buckets": [origin + k * interval for k in range(n)],
            "line_crossings": [_crossings(k, v) for k, v in _sorted(cross)],
            "occupancy": [_occupancy(k, v) for k, v in _sorted(occ)],
        }
    )


def _buckets(
    interval: int, since: float | None, until: float | None, span: tuple[float, float] | None
) -> tuple[float | None, int]:
    """The first bucket's start and the number of buckets (see `compute_counts`)."""
    if since is not None:
        origin = since
    elif span is not None:
        origin = float(math.floor(span[0] / interval) * interval)
    else:
        return None, 0
    if until is not None:
        n = max(0, math.ceil((until - origin) / interval))
    elif span is not None:
        n = int((span[1] - origin) // interval) + 1
    else:
        n = 0
    if n > MAX_BUCKETS:
        raise ValueError(
            f"{n} intervals of {interval} s: at most {MAX_BUCKETS}; narrow since/until or "
            "widen the interval"
        )
    return origin, n


def _sorted(series: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return sorted(series.items(), key=lambda kv: tuple(str(x) for x in kv[0]))


def _crossings(key: CrossingKey, counts: list[int]) -> CrossingSeries:
    camera, app, line, class_name, direction = key
    return CrossingSeries(
        camera=camera,
        app=app,
        line=line,
        class_name=class_name,
        direction=direction,
        total=sum(counts),
        counts=counts,
    )


def _occupancy(key: ZoneKey, buckets: list[OccupancyBucket | None]) -> OccupancySeries:
    camera, app, zone = key
    return OccupancySeries(
        camera=camera,
        app=app,
        zone=zone,
        samples=sum(b.samples for b in buckets if b),
        max=[b.max if b else None for b in buckets],
        mean=[round(b.total / b.samples, 3) if b else None for b in buckets],
        last=[b.last if b else None for b in buckets],
    )


@router.get("/api/counts", response_model=CountsOut)
def counts(
    principal: Viewer,
    events: Events,
    camera: str | None = None,
    app_name: Annotated[str | None, Query(alias="app")] = None,
    interval: Annotated[int, Query(ge=1, le=366 * 86400, description="Seconds.")] = 3600,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
) -> CountsOut:
    """Line crossings per interval, line, class and direction, and occupancy per interval
    (max, mean and last sample), as time series over the same buckets."""
    if since is not None and until is not None and until <= since:
        raise bad_param("until", "must be after since", until)
    try:
        return compute_counts(
            events,
            camera=camera,
            app=app_name,
            interval=interval,
            since=since,
            until=until,
            cameras=principal.cameras,
        )
    except ValueError as err:
        raise bad_param("interval", str(err), interval) from None
