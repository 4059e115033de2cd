"""Heat maps and dwell at scale (issue 13 item 3): one busy camera's occupancy heat map and
per-zone dwell distribution over 24 hours and over 7 days, on SQLite and on PostgreSQL.

    python benchmarks/heatmap.py [--tracks 200000] [--cameras 1] [--days 7]
                                 [--backends sqlite,postgresql] [--repeat 3]

Fills each database (a temporary folder; PostgreSQL a private server started here) with
`--tracks` summaries as `forensic_search.py` generates them (straight walks and drives,
8–40 path points), each also inside one of four zones for its whole duration, then times
`vigil.forensics.heatmap.occupancy` and `dwell` for the first camera over the last 24 hours
and the whole `--days`, and prints the median wall and CPU time of `--repeat` runs, the tracks and path
points aggregated.
"""

from __future__ import annotations

import argparse
import statistics
import time

from backends import database_urls
from forensic_search import DAY, summaries
from sqlalchemy import insert

from vigil.db.database import Database
from vigil.db.schema import TrackRow
from vigil.forensics.heatmap import dwell, grid_shape, occupancy

ZONES = ("door", "queue", "bench", "till")


def fill(database: Database, args: argparse.Namespace) -> float:
    began = time.perf_counter()
    for rows in summaries(args.tracks, args.cameras, args.days):
        for row in rows:
            row["zones"] = {ZONES[row["track_id"] % len(ZONES)]: row["dwell"]}
        with database.write() as session:
            session.execute(insert(TrackRow), rows)
    return time.perf_counter() - began


def timed(run, repeat: int) -> tuple[str, object]:
    """The median wall and CPU time of `repeat` runs (this machine may be shared: the CPU
    time is this process's own work), and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return (
        f"{statistics.median(walls) * 1000:.0f} ms (CPU {statistics.median(cpus) * 1000:.0f} ms)",
        result,
    )


def run_backend(name: str, url: str, args: argparse.Namespace) -> None:
    with Database(url) as database:
        seconds = fill(database, args)
        print(
            f"{name}: {args.tracks:,} tracks on {args.cameras} camera(s) stored in {seconds:.1f} s"
        )
        end = args.days * DAY
        shape = grid_shape((1920, 1080))
        for label, start in (("24 h", end - DAY), (f"{args.days:g} days", 0.0)):
            heat_s, heat = timed(
                lambda s=start: occupancy(database, "cam00", s, end, shape=shape), args.repeat
            )
            dwell_s, zones = timed(lambda s=start: dwell(database, "cam00", s, end), args.repeat)
            people_s, _ = timed(
                lambda s=start: occupancy(database, "cam00", s, end, ["person"], shape), args.repeat
            )
            print(
                f"{name}: {label}: heat map {heat_s} ({heat.tracks:,} tracks, "  # type: ignore[attr-defined]
                f"grid {shape[1]}x{shape[0]}), people only {people_s}, "
                f"dwell {dwell_s} ({sum(z.count for z in zones):,} visits, "  # type: ignore[attr-defined]
                f"{len(zones)} zones)"  # type: ignore[arg-type]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend, url in database_urls(args.backends, "vigil-heatmap-"):
        run_backend(backend, url, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
