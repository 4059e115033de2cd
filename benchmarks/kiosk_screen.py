"""The analytics screen's data over a busy day (issue 13 item 5: "holds 24 h of data without
slowing"): the time of one ``screen_data`` call, which the screen makes every second.

    python benchmarks/kiosk_screen.py [--rate 3] [--cameras 4] [--zones 6] [--hours 24]
                                      [--backends sqlite,postgresql] [--calls 20]

Fills each database (in a temporary folder; PostgreSQL is a private server started here)
with `--hours` hours of a busy site: line crossings at `--rate` per second in all (in and
out, spread over the cameras' lines), an occupancy report every 10 s for each of `--zones`
zones, a queue report every 10 s and a served event every 20 s for two queues, and one track
summary per crossing (its seconds in a zone). Then, at the end of the first hour and of the
day, it times: the screen's calls (`ScreenCache.data`, one a second for `--calls` seconds,
after the first, cold call that reads the day) and, as the baseline in the same run, the
whole day read in full on every call (`screen_data`); it prints the median and worst of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator

import numpy as np
from backends import database_urls
from sqlalchemy import insert

from vigil.db.database import Database
from vigil.db.schema import EventRow, TrackRow
from vigil.events.store import EventStore
from vigil.kiosk.screen import HOUR, ScreenCache, screen_data

BATCH = 20_000
EPOCH = 1_764_892_800.0  # a midnight (UTC)


def rows(args: argparse.Namespace, seed: int = 5) -> Iterator[tuple[type, list[dict]]]:
    rng = np.random.default_rng(seed)
    cameras = [f"cam{i}" for i in range(args.cameras)]
    span = args.hours * HOUR
    crossings = int(args.rate * span)
    times = np.sort(rng.uniform(0, span, crossings)) + EPOCH
    ids = 0
    for offset in range(0, crossings, BATCH):
        chunk = times[offset : offset + BATCH]
        events, tracks = [], []
        for t in chunk.tolist():
            ids += 1
            camera = cameras[ids % len(cameras)]
            events.append(
                {"id": f"x{ids}", "source": camera, "app": "door", "type": "line_crossing",
                 "state": "instant", "start_time": t, "end_time": None, "frame_index": ids,
                 "track_id": ids, "class_id": 0, "class_name": "person", "zone": None,
                 "line": f"door{ids % 2}", "attributes": {"direction": "in" if ids % 3 else "out"}}
            )  # fmt: skip
            tracks.append(
                {"source": camera, "track_id": ids, "class_name": "person", "first_time": t - 8,
                 "last_time": t + 4, "min_x": 0.1, "min_y": 0.1, "max_x": 0.9, "max_y": 0.9,
                 "path": b"", "zones": {f"zone{ids % args.zones}": 3.0 + ids % 40},
                 "lines": [], "dwell": 3.0 + ids % 40, "speed_kmh": None, "node": None}
            )  # fmt: skip
        yield EventRow, events
        yield TrackRow, tracks
    periodic = []
    for k, t in enumerate(np.arange(EPOCH, EPOCH + span, 10.0).tolist()):
        for z in range(args.zones):
            periodic.append(
                {"id": f"o{k}-{z}", "source": cameras[z % len(cameras)], "app": f"occ{z}",
                 "type": "occupancy", "state": "instant", "start_time": t, "end_time": None,
                 "frame_index": k, "zone": f"zone{z}", "attributes": {"count": (k + z) % 30}}
            )  # fmt: skip
        for q in range(2):
            periodic.append(
                {"id": f"q{k}-{q}", "source": cameras[q % len(cameras)], "app": f"queue{q}",
                 "type": "queue", "state": "instant", "start_time": t, "end_time": None,
                 "frame_index": k, "zone": f"queue{q}",
                 "attributes": {"count": k % 7, "avg_wait": 30.0, "est_wait": 45.0}}
            )  # fmt: skip
            if k % 2:
                periodic.append(
                    {"id": f"s{k}-{q}", "source": cameras[q % len(cameras)], "app": f"queue{q}",
                     "type": "served", "state": "instant", "start_time": t, "end_time": None,
                     "frame_index": k, "zone": f"queue{q}", "attributes": {"wait": 20.0 + k % 9}}
                )  # fmt: skip
        if len(periodic) >= BATCH:
            yield EventRow, periodic
            periodic = []
    yield EventRow, periodic


def timed(call, now: float, calls: int) -> tuple[list[float], int]:
    """Times of `calls` calls a second apart from `now`, and the crossings of the last."""
    times = []
    for k in range(calls):
        began = time.perf_counter()
        data = call(now + k)
        times.append(time.perf_counter() - began)
    return times, sum(line.entered + line.exited for line in data.lines)


def run_backend(name: str, url: str, args: argparse.Namespace) -> None:
    with Database(url) as database:
        store = EventStore(database)
        began = time.perf_counter()
        stored = 0
        for table, batch in rows(args):
            with database.write() as session:
                session.execute(insert(table), batch)
            stored += len(batch) if table is EventRow else 0
        print(f"{name}: {stored:,} events stored in {time.perf_counter() - began:.1f} s")
        cameras = [f"cam{i}" for i in range(args.cameras)]
        for label, now in (("first hour", EPOCH + HOUR), ("whole day", EPOCH + args.hours * HOUR)):
            cache = ScreenCache()
            began = time.perf_counter()
            cache.data(store, None, cameras, EPOCH, now - 1)
            cold = time.perf_counter() - began
            times, crossings = timed(
                lambda t, c=cache: c.data(store, None, cameras, EPOCH, t), now, args.calls
            )
            full, _ = timed(lambda t: screen_data(store, None, cameras, EPOCH, t), now, 3)
            print(
                f"{name}: {label}: {crossings:,} crossings: screen calls median "
                f"{statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms "
                f"(first call {cold * 1000:.0f} ms); whole day read each call: median "
                f"{statistics.median(full) * 1000:.0f} ms"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=3.0, help="crossings per second")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--zones", type=int, default=6)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend, url in database_urls(args.backends, "vigil-kiosk-"):
        run_backend(backend, url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
