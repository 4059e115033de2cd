"""What the analytics screen shows, aggregated by the database: today's crossings in and out
per line and per hour, occupancy per zone now and at its peak against its capacity, dwell per
zone (from the stored track summaries, `vigil.forensics`) and queue waits (the ``queue`` app's
reports and its ``served`` events).

Every figure comes from grouped SQL queries over indexed rows (`EventStore`'s
`crossing_counts` and `occupancy_buckets`, as ``GET /api/counts``, and the queries below). The
screen asks every second, and a busy day is hundreds of thousands of rows, so `ScreenCache`
keeps the day's totals up to a minute ago (`SETTLE_S`: events are stored within seconds of
happening) and each call adds only what came after: the database reads a minute or two of
rows, not the day. The totals are rebuilt from the database every `REBUILD_S` (a camera that
caught up on a backlog late). Only numbers: no picture, no track id.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Double, Float, case, func, select, true
from sqlalchemy import cast as sql_cast

from vigil.config.site import SiteConfig
from vigil.db.schema import EventRow, TrackRow
from vigil.events.store import EventStore

__all__ = ["HOUR", "MAX_HOURS", "ScreenCache", "ScreenData", "screen_data"]

HOUR = 3600
MAX_HOURS = 48  # a "day" of at most this many hourly buckets (a daylight-saving day is 23-25)
_STALE_S = 2 * HOUR  # an occupancy sample older than this is not "now"
SETTLE_S = 30.0  # events older than this are in the database: their totals are kept
ADVANCE_S = 60.0  # the kept totals move on at most this often
REBUILD_S = 900.0  # and are read again from the start of the day this often
_KEPT_DAYS = 8  # (cameras, day) totals kept at once


class LineCount(BaseModel):
    camera: str
    line: str
    entered: int = Field(description="Crossings in today.")
    exited: int = Field(description="Crossings out today.")
    hourly_in: list[int]
    hourly_out: list[int]


class ZoneOccupancy(BaseModel):
    camera: str
    zone: str | None = Field(description="None: the whole picture.")
    current: int | None = Field(description="The latest sample; None when none is recent.")
    peak: int = Field(description="The most at once today.")
    capacity: int | None = Field(description="The occupancy app's capacity or threshold.")


class ZoneDwell(BaseModel):
    camera: str
    zone: str
    tracks: int = Field(description="Tracks that spent time in the zone today.")
    mean_s: float
    max_s: float


class QueueWait(BaseModel):
    camera: str
    zone: str | None
    waiting: int = Field(description="People in the queue at the latest report.")
    avg_wait_s: float = Field(description="How long they have waited so far, on average.")
    est_wait_s: float | None = Field(description="A newcomer's estimated wait.")
    served_today: int
    mean_served_wait_s: float | None = Field(description="Mean wait of those served today.")


class ScreenData(BaseModel):
    since: float = Field(description="Start of the day shown (the screen's local midnight).")
    now: float
    cameras: list[str]
    hours: list[float] = Field(description="Start of each hourly bucket.")
    flow_in: list[int] = Field(description="Crossings in per hour, every line together.")
    flow_out: list[int]
    lines: list[LineCount]
    zones: list[ZoneOccupancy]
    dwell: list[ZoneDwell]
    queues: list[QueueWait]


@dataclass
class _Tally:
    """Mergeable sums of one time range: later ranges win for "latest" values."""

    crossings: dict[tuple[str, str, str, int], int] = field(default_factory=dict)
    occupancy: dict[tuple[str, str, str | None, int], tuple[int, int]] = field(
        default_factory=dict
    )  # (camera, app, zone, bucket) -> (max, last)
    dwell: dict[tuple[str, str], tuple[int, float, float]] = field(default_factory=dict)
    served: dict[tuple[str, str, str | None], tuple[int, float, int]] = field(
        default_factory=dict
    )  # -> (served, sum of waits, waits known)
    queues: dict[tuple[str, str, str | None], dict[str, Any]] = field(default_factory=dict)

    def merged(self, later: _Tally) -> _Tally:
        out = _Tally(
            dict(self.crossings), dict(self.occupancy), dict(self.dwell), dict(self.served),
            {**self.queues, **later.queues},
        )  # fmt: skip
        for line, count in later.crossings.items():
            out.crossings[line] = out.crossings.get(line, 0) + count
        for zone, (top, last) in later.occupancy.items():
            old = out.occupancy.get(zone)
            out.occupancy[zone] = (top if old is None else max(old[0], top), last)
        for place, (n, seconds, longest) in later.dwell.items():
            k, total, most = out.dwell.get(place, (0, 0.0, 0.0))
            out.dwell[place] = (k + n, total + seconds, max(most, longest))
        for queue, (n, waits, known) in later.served.items():
            k, total, knew = out.served.get(queue, (0, 0.0, 0))
            out.served[queue] = (k + n, total + waits, knew + known)
        return out


def _tally(events: EventStore, cameras: Sequence[str], since: float, start: float,
           end: float | None) -> _Tally:  # fmt: skip
    """The sums of the events stored from `start` until `end` (None: all after `start`),
    hourly buckets counted from `since`."""
    out = _Tally()
    filters: dict[str, Any] = {"sources": list(cameras), "since": start, "until": end}
    for c in events.crossing_counts(since, HOUR, MAX_HOURS, **filters):
        if c.line is not None and c.direction in ("in", "out"):
            key = (c.source, c.line, c.direction, c.bucket)
            out.crossings[key] = out.crossings.get(key, 0) + c.count
    for b in events.occupancy_buckets(since, HOUR, MAX_HOURS, **filters):
        out.occupancy[(b.source, b.app, b.zone, b.bucket)] = (b.max, b.last)
    out.dwell = _dwell(events, cameras, start, end)
    out.served, out.queues = _queues(events, cameras, start, end)
    return out


@dataclass
class _Kept:
    tally: _Tally
    cut: float  # the tally covers [since, cut)
    built: float  # monotonic time it was first read


class ScreenCache:
    """The day's totals per set of cameras, kept between calls (see the module's doc)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._kept: OrderedDict[tuple[tuple[str, ...], float], _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock

    def data(
        self,
        events: EventStore,
        site: SiteConfig | None,
        cameras: Sequence[str],
        since: float,
        now: float,
    ) -> ScreenData:
        """As `screen_data`, reading only what is newer than the kept totals."""
        key = (tuple(sorted(set(cameras))), since)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or self._clock() - kept.built > REBUILD_S:
                kept = _Kept(_Tally(), since, self._clock())
            cut = now - SETTLE_S
            if cut - kept.cut >= ADVANCE_S:
                kept.tally = kept.tally.merged(_tally(events, cameras, since, kept.cut, cut))
                kept.cut = cut
            self._kept[key] = kept
            self._kept.move_to_end(key)
            while len(self._kept) > _KEPT_DAYS:
                self._kept.popitem(last=False)
            fresh = _tally(events, cameras, since, kept.cut, now + SETTLE_S)  # a clock ahead too
            tally = kept.tally.merged(fresh)
        return _screen(tally, site, cameras, since, now)


def screen_data(
    events: EventStore,
    site: SiteConfig | None,
    cameras: Sequence[str],
    since: float,
    now: float,
) -> ScreenData:
    """The screen's figures for `cameras` from `since` (the day's start) until `now`, read
    from the database in full (`ScreenCache.data` reads only what is new)."""
    return _screen(_tally(events, cameras, since, since, None), site, cameras, since, now)


def _screen(
    tally: _Tally, site: SiteConfig | None, cameras: Sequence[str], since: float, now: float
) -> ScreenData:
    n = min(MAX_HOURS, max(1, math.ceil((now - since) / HOUR)))
    lines: dict[tuple[str, str], LineCount] = {}
    flow = {"in": [0] * n, "out": [0] * n}
    for (camera, name, direction, bucket), count in sorted(tally.crossings.items()):
        line = lines.get((camera, name))
        if line is None:
            line = lines[(camera, name)] = LineCount(
                camera=camera, line=name, entered=0, exited=0,
                hourly_in=[0] * n, hourly_out=[0] * n,
            )  # fmt: skip
        if direction == "in":
            line.entered += count
        else:
            line.exited += count
        if bucket < n:
            (line.hourly_in if direction == "in" else line.hourly_out)[bucket] += count
            flow[direction][bucket] += count
    return ScreenData(
        since=since,
        now=now,
        cameras=list(cameras),
        hours=[since + k * HOUR for k in range(n)],
        flow_in=flow["in"],
        flow_out=flow["out"],
        lines=list(lines.values()),
        zones=_occupancy(tally, site, since, now),
        dwell=[
            ZoneDwell(
                camera=camera, zone=zone, tracks=k, mean_s=round(total / k, 1), max_s=round(top, 1)
            )
            for (camera, zone), (k, total, top) in sorted(tally.dwell.items())
            if k
        ],  # fmt: skip
        queues=[
            _queue(key, stats, tally.served.get(key, (0, 0.0, 0)))
            for key, stats in sorted(tally.queues.items(), key=lambda kv: str(kv[0]))
        ],
    )


def _capacities(site: SiteConfig | None) -> dict[tuple[str, str, str | None], int]:
    """(camera, app name, zone) -> the occupancy app's capacity (its threshold when it has
    none), where one is set."""
    out: dict[tuple[str, str, str | None], int] = {}
    for camera in site.cameras if site is not None else ():
        for app in camera.apps:
            settings = app.settings
            capacity = settings.get("capacity") or settings.get("threshold")
            if app.type == "occupancy" and isinstance(capacity, int):
                out[(camera.id, app.name or app.type, settings.get("zone"))] = capacity
    return out


def _occupancy(
    tally: _Tally, site: SiteConfig | None, since: float, now: float
) -> list[ZoneOccupancy]:
    latest: dict[tuple[str, str, str | None], tuple[int, int]] = {}  # -> (bucket, last)
    peaks: dict[tuple[str, str, str | None], int] = {}
    for (camera, app, zone, bucket), (top, last) in tally.occupancy.items():
        key = (camera, app, zone)
        peaks[key] = max(peaks.get(key, 0), top)
        if key not in latest or bucket > latest[key][0]:
            latest[key] = (bucket, last)
    capacity = _capacities(site)
    recent = math.floor((now - _STALE_S - since) / HOUR)  # buckets before it are stale
    return [
        ZoneOccupancy(
            camera=key[0],
            zone=key[2],
            current=last if bucket >= recent else None,
            peak=peaks[key],
            capacity=capacity.get(key),
        )
        for key, (bucket, last) in sorted(latest.items(), key=lambda kv: str(kv[0]))
    ]


def _dwell(
    events: EventStore, cameras: Sequence[str], start: float, end: float | None
) -> dict[tuple[str, str], tuple[int, float, float]]:
    """(camera, zone) -> (tracks, seconds in all, most seconds) of the track summaries that
    ended in the range (by the index on camera and ``last_time``; their ``zones`` JSON
    unnested in SQL)."""
    if events.database.backend == "sqlite":
        each = func.json_each(TrackRow.zones).table_valued("key", "value")
        seconds = sql_cast(each.c.value, Float)
    else:
        each = func.jsonb_each_text(TrackRow.zones).table_valued("key", "value")
        seconds = sql_cast(each.c.value, Double)
    ended = [TrackRow.last_time >= start]
    if end is not None:
        ended.append(TrackRow.last_time < end)
    stmt = (
        select(TrackRow.source, each.c.key, func.count(), func.sum(seconds), func.max(seconds))
        .select_from(TrackRow)
        .join(each, true())
        .where(TrackRow.source.in_(sorted(set(cameras))), *ended)
        .group_by(TrackRow.source, each.c.key)
    )
    with events.database.read() as s:
        return {
            (src, str(zone)): (int(k), float(total or 0.0), float(top or 0.0))
            for src, zone, k, total, top in s.execute(stmt)
        }


_QueueKey = tuple[str, str, str | None]


def _queues(
    events: EventStore, cameras: Sequence[str], start: float, end: float | None
) -> tuple[dict[_QueueKey, tuple[int, float, int]], dict[_QueueKey, dict[str, Any]]]:
    """Per queue (camera, app, zone): the ``served`` events of the range (how many, the sum
    and number of their known waits) and the latest ``queue`` report's attributes."""
    keys = (EventRow.source, EventRow.app, EventRow.zone)
    in_range = [EventRow.source.in_(sorted(set(cameras))), EventRow.start_time >= start]
    if end is not None:
        in_range.append(EventRow.start_time < end)
    newest = func.row_number().over(
        partition_by=keys, order_by=(EventRow.start_time.desc(), EventRow.id.desc())
    )
    reports = (
        select(*keys, EventRow.attributes, newest.label("newest"))
        .where(EventRow.type == "queue", *in_range)
        .subquery()
    )
    wait = EventRow.attributes["wait"].as_float()
    if events.database.backend == "sqlite":  # a row stored with NaN is not valid JSON
        wait = case((func.json_valid(EventRow.attributes), wait))
    served = (
        select(*keys, func.count(), func.sum(wait), func.count(wait))
        .where(EventRow.type == "served", *in_range)
        .group_by(*keys)
    )
    latest = select(reports.c.source, reports.c.app, reports.c.zone, reports.c.attributes).where(
        reports.c.newest == 1
    )
    with events.database.read() as s:
        totals = {
            (src, app, zone): (int(k), float(total or 0.0), int(known))
            for src, app, zone, k, total, known in s.execute(served)
        }
        reported = {
            (src, app, zone): attributes if isinstance(attributes, dict) else {}
            for src, app, zone, attributes in s.execute(latest)
        }
    return totals, reported


def _queue(key: _QueueKey, stats: dict[str, Any], served: tuple[int, float, int]) -> QueueWait:
    count, total, known = served
    return QueueWait(
        camera=key[0],
        zone=key[2],
        waiting=int(_number(stats.get("count")) or 0),
        avg_wait_s=_number(stats.get("avg_wait")) or 0.0,
        est_wait_s=_number(stats.get("est_wait")),
        served_today=count,
        mean_served_wait_s=round(total / known, 1) if known else None,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
