"""Forensic search at scale (issue 13 item 4): a one-hour, one-camera "passed through this
area" query over a million stored tracks, on SQLite and on PostgreSQL.

    python benchmarks/forensic_search.py [--tracks 1000000] [--cameras 10] [--days 7]
                                         [--backends sqlite,postgresql] [--queries 20]

Fills each database (in a temporary folder; PostgreSQL is a private server started here,
`vigil.cluster.postgres.PrivatePostgres`) with `--tracks` track summaries spread evenly over
`--cameras` cameras and `--days` days: people and cars walking or driving straight through
the frame, 8–40 path points each, as `TrackSummarizer` stores them. Then it times
`--queries` searches, each for a random hour of a random camera and a random polygon a fifth
of the frame wide, and prints the median and worst time and the hits, against the baseline
of the same search with no spatial prefilter (the path test alone over every track of the
hour), in the same run.
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
from vigil.db.schema import TrackRow
from vigil.forensics.store import TrackQuery, TrackStore, encode_path

DAY = 86400.0
BATCH = 20000


def summaries(tracks: int, cameras: int, days: float, seed: int = 7) -> Iterator[list[dict]]:
    """Rows of `tracks` straight-line tracks, `BATCH` at a time."""
    rng = np.random.default_rng(seed)
    names = [f"cam{i:02d}" for i in range(cameras)]
    for offset in range(0, tracks, BATCH):
        n = min(BATCH, tracks - offset)
        first = rng.uniform(0, days * DAY, n)
        duration = rng.uniform(4, 60, n)
        start, end = rng.uniform(0, 1, (n, 2)), rng.uniform(0, 1, (n, 2))
        points = rng.integers(8, 41, n)
        rows = []
        for i in range(n):
            k = int(points[i])
            f = np.linspace(0, 1, k)
            path = np.column_stack(
                [f * duration[i], start[i, 0] + f * (end[i, 0] - start[i, 0]),
                 start[i, 1] + f * (end[i, 1] - start[i, 1])]
            ).astype(np.float32)  # fmt: skip
            xy = path[:, 1:]
            rows.append(
                {
                    "source": names[i % cameras],
                    "track_id": offset + i,
                    "class_name": "person" if i % 3 else "car",
                    "first_time": float(first[i]),
                    "last_time": float(first[i] + duration[i]),
                    "min_x": float(xy[:, 0].min()),
                    "min_y": float(xy[:, 1].min()),
                    "max_x": float(xy[:, 0].max()),
                    "max_y": float(xy[:, 1].max()),
                    "path": encode_path(path),
                    "zones": {},
                    "lines": [],
                    "dwell": float(duration[i]),
                    "speed_kmh": None,
                    "node": None,
                }
            )
        yield rows


def fill(database: Database, tracks: int, cameras: int, days: float) -> float:
    began = time.perf_counter()
    for rows in summaries(tracks, cameras, days):
        with database.write() as session:
            session.execute(insert(TrackRow), rows)
    return time.perf_counter() - began


def queries(count: int, cameras: int, days: float, seed: int = 11) -> list[TrackQuery]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        hour = float(rng.uniform(0, days * DAY - 3600))
        x, y = rng.uniform(0.1, 0.7, 2)
        square = [(x, y), (x + 0.2, y), (x + 0.2, y + 0.2), (x, y + 0.2)]
        camera = f"cam{int(rng.integers(cameras)):02d}"
        out.append(
            TrackQuery(start=hour, end=hour + 3600, sources=[camera], polygon=square, limit=10_000)
        )
    return out


def timed(store: TrackStore, todo: list[TrackQuery]) -> tuple[list[float], list[int]]:
    times, hits = [], []
    for query in todo:
        began = time.perf_counter()
        found = store.search(query)
        times.append(time.perf_counter() - began)
        hits.append(len(found))
    return times, hits


def run_backend(name: str, url: str, args: argparse.Namespace) -> None:
    with Database(url) as database:
        store = TrackStore(database)
        seconds = fill(database, args.tracks, args.cameras, args.days)
        print(f"{name}: {args.tracks:,} tracks stored in {seconds:.1f} s")
        todo = queries(args.queries, args.cameras, args.days)
        store.search(todo[0])  # warm the connection and the cache, as a running service is
        times, hits = timed(store, todo)
        print(
            f"{name}: polygon, one camera, one hour: median {statistics.median(times) * 1000:.1f} ms, "
            f"worst {max(times) * 1000:.1f} ms, hits median {statistics.median(hits):.0f}"
        )
        baseline = [
            TrackQuery(start=q.start, end=q.end, sources=q.sources, limit=q.limit) for q in todo
        ]
        base_times, base_hits = timed(store, baseline)
        print(
            f"{name}: baseline (same camera and hour, no place filter): median "
            f"{statistics.median(base_times) * 1000:.1f} ms, tracks median "
            f"{statistics.median(base_hits):.0f}; polygon / baseline = "
            f"{statistics.median(times) / statistics.median(base_times):.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend, url in database_urls(args.backends, "vigil-forensic-"):
        run_backend(backend, url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
