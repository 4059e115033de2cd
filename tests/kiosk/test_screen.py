"""The analytics screen's figures (`vigil.kiosk.screen`) from a day of stored events and
track summaries, on SQLite and PostgreSQL; and `ScreenCache`, which keeps the day's totals
between the screen's calls, against a full read after every change."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.kiosk.screen import ADVANCE_S, HOUR, SETTLE_S, ScreenCache, screen_data

DAY = 1_700_000_000.0  # the screen's midnight
SITE = SiteConfig.model_validate(
    {
        "cameras": [
            {
                "id": "cam1",
                "url": "clip.mp4",
                "zones": {"hall": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]},
                          "desk": {"points": [[0, 0], [0.5, 0], [0.5, 0.5]]}},
                "apps": [
                    {"type": "occupancy", "name": "hall-occ",
                     "settings": {"zone": "hall", "threshold": 10}},
                    {"type": "occupancy", "name": "desk-occ",
                     "settings": {"zone": "desk", "threshold": 3, "capacity": 4}},
                ],
            }
        ]
    }
)  # fmt: skip


def crossing(t: float, direction: str | None, line: str = "door", source: str = "cam1") -> Event:
    attributes = {} if direction is None else {"direction": direction}
    return Event(source=source, app="door-count", type="line_crossing", start_time=t,
                 frame_index=0, line=line, class_name="person", attributes=attributes)  # fmt: skip


def report(t: float, type_: str, zone: str, app: str, **attributes: object) -> Event:
    return Event(source="cam1", app=app, type=type_, start_time=t, frame_index=0, zone=zone,
                 attributes=attributes)  # fmt: skip


def summary(track_id: int, first: float, zones: dict[str, float]) -> TrackSummary:
    path = np.array([[0, 0.2, 0.2], [4, 0.8, 0.8]], np.float32)
    return TrackSummary("cam1", track_id, "person", first, first + 4, path, zones)


@pytest.fixture
def stores(database: str):
    with Database(database) as db:
        yield EventStore(db), TrackStore(db)


def test_the_days_figures(stores: tuple[EventStore, TrackStore]) -> None:
    events, tracks = stores
    events.add(
        [
            crossing(DAY - 10, "in"),  # yesterday
            *(crossing(DAY + 60 * k, "in") for k in range(3)),
            *(crossing(DAY + HOUR + 60 * k, "out") for k in range(2)),
            crossing(DAY + HOUR + 5, None),  # no direction: not a count
            crossing(DAY + 100, "in", source="cam2"),  # a camera the screen does not show
            report(DAY + 30, "occupancy", "hall", "hall-occ", count=4),
            report(DAY + HOUR + 10, "occupancy", "hall", "hall-occ", count=7),
            report(DAY + HOUR + 20, "occupancy", "hall", "hall-occ", count=5),
            report(DAY + HOUR + 20, "occupancy", "desk", "desk-occ", count=2),
            report(DAY + 40, "queue", "desk", "desk-queue", count=1, avg_wait=5.0, est_wait=20.0),
            report(
                DAY + HOUR + 40,
                "queue",
                "desk",
                "desk-queue",
                count=3,
                avg_wait=12.5,
                est_wait=90.0,
            ),  # fmt: skip
            report(DAY + 50, "served", "desk", "desk-queue", wait=30.0),
            report(DAY + HOUR + 50, "served", "desk", "desk-queue", wait=60.0),
        ]
    )
    tracks.add(
        [
            summary(1, DAY - 100, {"hall": 99.0}),  # ended yesterday
            summary(2, DAY + 10, {"hall": 10.0}),
            summary(3, DAY + 20, {"hall": 30.0}),
            summary(4, DAY + HOUR, {"hall": 20.0, "desk": 5.0}),
        ]
    )
    data = screen_data(events, SITE, ["cam1"], DAY, DAY + HOUR + 600)

    assert data.hours == [DAY, DAY + HOUR]
    assert [(x.camera, x.line, x.entered, x.exited) for x in data.lines] == [("cam1", "door", 3, 2)]
    assert data.lines[0].hourly_in == [3, 0] and data.lines[0].hourly_out == [0, 2]
    assert (data.flow_in, data.flow_out) == ([3, 0], [0, 2])
    assert [(z.zone, z.current, z.peak, z.capacity) for z in data.zones] == [
        ("desk", 2, 2, 4),  # its capacity
        ("hall", 5, 7, 10),  # its threshold
    ]
    assert [(d.zone, d.tracks, d.mean_s, d.max_s) for d in data.dwell] == [
        ("desk", 1, 5.0, 5.0),
        ("hall", 3, 20.0, 30.0),
    ]
    [queue] = data.queues
    assert (queue.zone, queue.waiting, queue.avg_wait_s, queue.est_wait_s) == (
        "desk",
        3,
        12.5,
        90.0,
    )
    assert (queue.served_today, queue.mean_served_wait_s) == (2, 45.0)
    # hours later with no new sample, the last one is no longer "now"
    later = screen_data(events, SITE, ["cam1"], DAY, DAY + 5 * HOUR)
    assert [(z.current, z.peak) for z in later.zones] == [(None, 2), (None, 7)]


def test_kept_totals_match_a_full_read_as_the_day_goes_on(
    stores: tuple[EventStore, TrackStore],
) -> None:
    """Every second a screen call; events keep arriving a second after they happen, across
    several of the cache's advances and an hour boundary: each answer equals the day read
    in full, and a crossing shows at the first call after it is stored."""
    events, tracks = stores
    ticks = [0.0]
    cache = ScreenCache(clock=lambda: ticks[0])
    now = DAY + HOUR - 200
    seen = 0
    for second in range(int(4 * ADVANCE_S)):
        now += 1.0
        ticks[0] += 1.0
        if second % 7 == 0:
            events.add([crossing(now - 1, "in" if second % 2 else "out")])
            seen += 1
        if second % 10 == 0:
            events.add([report(now - 1, "occupancy", "hall", "hall-occ", count=second % 9)])
            tracks.add([summary(second, now - 5, {"hall": float(second % 13)})])
        kept = cache.data(events, SITE, ["cam1"], DAY, now)
        assert kept == screen_data(events, SITE, ["cam1"], DAY, now), (second, now)
        assert sum(x.entered + x.exited for x in kept.lines) == seen
    assert now - SETTLE_S > DAY + HOUR  # the kept totals crossed the hour


def test_a_late_camera_is_caught_up_at_the_rebuild(stores: tuple[EventStore, TrackStore]) -> None:
    """An event stored long after it happened (a camera's backlog) is missed by the kept
    totals until they are read again (`REBUILD_S`)."""
    from vigil.kiosk.screen import REBUILD_S

    events, _ = stores
    ticks = [0.0]
    cache = ScreenCache(clock=lambda: ticks[0])
    now = DAY + 2 * HOUR
    assert cache.data(events, None, ["cam1"], DAY, now).lines == []
    events.add([crossing(DAY + 60, "in")])  # an hour and more late
    assert cache.data(events, None, ["cam1"], DAY, now + 1).lines == []
    ticks[0] += REBUILD_S + 1
    assert cache.data(events, None, ["cam1"], DAY, now + 2).lines[0].entered == 1
