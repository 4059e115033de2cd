"""The PostgreSQL write path at site scale (issue 10): events through `EventStore.add` and
segment rows through `SegmentIndex.add_many`, in batches of 1, 10, 100 and 500, rows/s per
batch size against batch 1 in the same run, on a private PostgreSQL.

    python benchmarks/pg_write_path.py [--seconds 5] [--sizes 1,10,100,500] [--sustain 30]
                                       [--writers 4]

Needs Debian's `postgresql` and psycopg (`vigil[cluster]`). The servers are
`vigil.cluster.postgres.PrivatePostgres` in temporary folders (127.0.0.1 only, removed at
the end), one after the other:

- `fsync off`: `durable=False`, as the tests run it (fsync, synchronous_commit and
  full_page_writes off): what the client and the server's CPU allow;
- `durable`: PostgreSQL's defaults, as a site runs it: every commit waits for its WAL to
  reach the disk.

Each server's database gets Vigil's schema from `Database`. Per batch size and table
the writer loops for `--seconds`, each call a new batch of new rows (events: occupancy
samples, line crossings and loitering starts of 2,000 cameras, as the built-in apps write
them; segments: 10 s files of those cameras); only the `add`/`add_many` calls are timed.
Columns: rows/s, x batch 1, the commit latency per call (median / p99 ms), and the CPU
each row cost the client (this process, in the calls) and the server (all its processes):
on a shared machine the wall-clock rates move with others' load, the CPU per row does
much less, and it says what a dedicated core on each side would do. Then each
table's size on disk per row, indexes included (PostgreSQL's growth per row). Then, on the
durable server, one writer keeps writing batches of 500 events for `--sustain` seconds (rate per 10 s), and
`--writers` processes (one per node, each its own connection, batch 100) write events at
once: the site's aggregate. The target is >= 5,000 events/s sustained.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import text

from vigil.cluster.postgres import PrivatePostgres, find_postgres_bin
from vigil.db.database import Database
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.events.store import EventStore
from vigil.recording.index import SegmentIndex
from vigil.recording.segments import SegmentInfo

CAMERAS = 2000


def events(size: int, rng: random.Random, clock: float) -> list[Event]:
    """`size` new events as the built-in apps write them (70 % occupancy samples, 25 % line
    crossings, 5 % loitering starts)."""
    batch = []
    for _ in range(size):
        camera = f"cam-{rng.randrange(CAMERAS):04d}"
        roll = rng.random()
        common: dict[str, Any] = {"source": camera, "start_time": clock, "frame_index": 1}
        if roll < 0.7:
            count = rng.randint(0, 9)
            attributes = {"count": count, "by_class": {"person": count}}
            batch.append(
                Event(
                    app="occupancy", type="occupancy", zone="floor", attributes=attributes, **common
                )
            )
        elif roll < 0.95:
            batch.append(
                Event(
                    app="crossings",
                    type="line_crossing",
                    line="door",
                    track_id=rng.randrange(10**6),
                    class_id=0,
                    class_name="person",
                    attributes={"direction": rng.choice(("in", "out"))},
                    **common,
                )
            )
        else:
            batch.append(
                Event(app="loiter", type="loitering", state="start", zone="floor", **common)
            )
    return batch


def segments(size: int, serial: int, clock: float) -> list[SegmentInfo]:
    """`size` new 10 s segment files of the site's cameras."""
    out = []
    for k in range(serial, serial + size):
        camera = f"cam-{k % CAMERAS:04d}"
        start = clock + 10.0 * (k // CAMERAS)
        path = f"nodes/node-{k % 50}/{camera}/{int(start)}.mp4"
        out.append(SegmentInfo(camera, path, start, start + 10.0, 4_000_000, True, k % 3 == 0))
    return out


def server_cpu(postmaster: int) -> float:
    """CPU seconds used so far by the PostgreSQL server `postmaster` and its processes (the
    backends are its children); processes that ended meanwhile are not counted."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == postmaster or stat.parent.name == str(postmaster):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def write_for(
    url: str, table: str, size: int, seconds: float, postmaster: int, seed: int = 0
) -> dict[str, Any]:
    """Write batches of `size` rows into `table` for `seconds` of timed calls; the calls'
    wall and client CPU time and the server's CPU time meanwhile."""
    rng = random.Random(seed)
    laps: list[float] = []
    rows, client = 0, 0.0
    with Database(url) as database:
        store, index = EventStore(database), SegmentIndex(database)
        clock = time.time()
        serial = seed * 10**9
        server = server_cpu(postmaster)
        while sum(laps) < seconds:
            if table == "events":
                batch: list[Any] = events(size, rng, clock + rows)
                started, cpu = time.perf_counter(), time.process_time()
                store.add(batch)
            else:
                batch = segments(size, serial + rows, clock)
                started, cpu = time.perf_counter(), time.process_time()
                index.add_many(batch)
            laps.append(time.perf_counter() - started)
            client += time.process_time() - cpu
            rows += size
        server = server_cpu(postmaster) - server
    return {"rows": rows, "seconds": sum(laps), "laps": laps, "client": client, "server": server}


def show(mode: str, url: str, sizes: list[int], seconds: float, postmaster: int) -> None:
    print(f"\n{mode}")
    print(
        f"{'table':<9} {'batch':>5} {'rows/s':>8} {'x batch 1':>9} {'ms p50':>7} {'ms p99':>7}"
        f" {'client us/row':>13} {'server us/row':>13}"
    )
    for table in ("events", "segments"):
        first = 0.0
        for size in sizes:
            result = write_for(url, table, size, seconds, postmaster)
            rate = result["rows"] / result["seconds"]
            first = first or rate
            laps = sorted(result["laps"])
            p99 = laps[min(len(laps) - 1, int(0.99 * len(laps)))]
            print(
                f"{table:<9} {size:>5} {rate:>8.0f} {rate / first:>9.1f}"
                f" {statistics.median(laps) * 1000:>7.2f} {p99 * 1000:>7.2f}"
                f" {result['client'] / result['rows'] * 1e6:>13.0f}"
                f" {result['server'] / result['rows'] * 1e6:>13.0f}"
            )
    with Database(url) as database, database.engine.connect() as conn:
        for table in ("events", "segments"):
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = text(f"SELECT pg_total_relation_size('{table}')")
            per_row = conn.execute(size).scalar_one() / max(rows, 1)
            print(f"{table}: {rows} rows, {per_row:.0f} bytes each on disk with indexes")


def show_sustained(
    url: str, seconds: float, postmaster: int, size: int = 500, window: float = 10.0
) -> None:
    """One writer, batches of `size` events for `seconds`, the rate per `window` of writing
    (the table grows all along: a falling rate would show here)."""
    result = write_for(url, "events", size, seconds, postmaster, seed=99)
    rates, spent, calls = [], 0.0, 0
    for lap in result["laps"]:
        spent, calls = spent + lap, calls + 1
        if spent >= window:
            rates.append(calls * size / spent)
            spent, calls = 0.0, 0
    if calls:
        rates.append(calls * size / spent)  # the last, shorter window
    shown = ", ".join(f"{rate:.0f}" for rate in rates)
    print(
        f"sustained, batch {size}, {seconds:g} s: {result['rows'] / result['seconds']:.0f} "
        f"events/s overall; per {window:g} s: {shown}; CPU per event: client "
        f"{result['client'] / result['rows'] * 1e6:.0f} us, server "
        f"{result['server'] / result['rows'] * 1e6:.0f} us"
    )


def show_writers(url: str, writers: int, seconds: float, postmaster: int) -> None:
    started = time.perf_counter()
    with ProcessPoolExecutor(writers) as pool:
        jobs = [
            pool.submit(write_for, url, "events", 100, seconds, postmaster, k + 1)
            for k in range(writers)
        ]
        results = [job.result() for job in jobs]
        wall = time.perf_counter() - started
    rows = sum(r["rows"] for r in results)
    print(
        f"{writers} writers at once, batch 100: {rows / wall:.0f} events/s together "
        f"({rows} events in {wall:.1f} s wall, process and Database set-up included)"
    )


def measure(title: str, durable: bool, args: argparse.Namespace, sizes: list[int]) -> None:
    """Start a private PostgreSQL (`durable` or not), measure on it, remove it."""
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="vigil-pg-bench-")), durable=durable)
    try:
        url = server.start()
        assert server.process is not None
        postmaster = server.process.pid
        show(title, url, sizes, args.seconds, postmaster)
        if durable and args.sustain:
            show_sustained(url, args.sustain, postmaster)
        if durable and args.writers:
            show_writers(url, args.writers, args.seconds, postmaster)
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="timed writing per row")
    parser.add_argument("--sizes", default="1,10,100,500", help="batch sizes")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes")
    parser.add_argument("--sustain", type=float, default=30.0, help="seconds of batch 500")
    args = parser.parse_args()
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("pg_write_path: PostgreSQL is not installed (Debian package `postgresql`)")
    version = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"{version}, {os.cpu_count()} CPUs, {args.seconds:g} s per row, "
        f"load average {os.getloadavg()[0]:.1f} (others' work slows every figure)"
    )
    sizes = [int(size) for size in args.sizes.split(",")]
    try:
        measure("fsync off (as the tests run PostgreSQL)", False, args, sizes)
        measure("durable (PostgreSQL's defaults, as a site runs it)", True, args, sizes)
    except VigilError as err:  # no psycopg, no `postgres` user, a server that did not start
        raise SystemExit(f"pg_write_path: {err}") from None
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
