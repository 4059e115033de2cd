"""Event queries at scale (issue 15 item 12): `/api/counts` and the retention pass's event
reads over a large events table, the way they work now against the way they worked before,
in one run on one database.

    python benchmarks/event_queries.py [--events 500000] [--days 30] [--db FILE]

Fills a SQLite database (in a temporary folder unless `--db` names one, which is reused
when it already holds the events) with `--events` events of 4 cameras spread over `--days`
days ending now: occupancy samples (70 %), line crossings (25 %) and loitering (5 %), as the
built-in apps write them. Then each step runs in a fresh Python process, timed, with its
peak resident memory above what the process held before the step:

- counts: `compute_counts` for a viewer of 2 of the 4 cameras, whole range, daily buckets
  (``GET /api/counts?interval=86400``); before: every event of the two types read a page
  of 5000 at a time (offset paging) and counted in Python (the code of `/api/counts` until
  this change, kept below as `counts_before`); both results are compared.
- retention spans: what the retention pass reads to protect event footage (events of the
  last 30 days): now streamed ``(source, start, end)`` rows into `EventCover`; before: every
  event as an `Event` (``store.query(since=..., limit=None)``).
- retention delete: one day of the oldest events deleted in batches of 5000
  (`EventStore.delete_before`), the pass's new event retention.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from vigil.api.routes.counts import compute_counts
from vigil.db.database import Database
from vigil.db.schema import EventRow
from vigil.events.store import EventStore
from vigil.recording.retention import CameraRetention, EventCover

if TYPE_CHECKING:
    from vigil.recording.retention import EventSpan

CAMERAS = ("gate", "yard", "hall", "dock")
VIEWER = frozenset({"gate", "hall"})
DAY = 86400.0
PAGE = 5000


# --------------------------------------------------------------------------- filling


def fill(db: Path, events: int, days: float) -> None:
    """`events` rows written with bulk inserts (a transaction per 20000)."""
    now = time.time()
    rng = random.Random(15)
    with Database(db) as database:
        store = EventStore(database)
        if store.count() >= events:
            print(f"{db}: reusing its {store.count()} events")
            return
        started = time.perf_counter()
        rows: list[dict[str, Any]] = []
        for k in range(events):
            start = now - days * DAY + (k + rng.random()) * days * DAY / events
            camera = CAMERAS[k % len(CAMERAS)]
            roll = rng.random()
            row: dict[str, Any] = {
                "id": f"{k:032x}",
                "source": camera,
                "state": "instant",
                "start_time": start,
                "end_time": start,
                "frame_index": k,
                "created_at": datetime.now(UTC),
                "track_id": None,
                "class_id": 0,
                "class_name": "person",
                "zone": None,
                "line": None,
            }
            if roll < 0.7:
                count = rng.randint(0, 9)
                row |= {"app": "occupancy", "type": "occupancy", "zone": "floor"}
                row["attributes"] = {"count": count, "by_class": {"person": count}}
            elif roll < 0.95:
                row |= {"app": "crossings", "type": "line_crossing", "line": "door"}
                row["attributes"] = {"direction": rng.choice(("in", "out"))}
                row["track_id"] = k
            else:
                row |= {"app": "loiter", "type": "loitering", "zone": "floor", "track_id": k}
                row |= {"state": "end", "end_time": start + 30.0}
                row["attributes"] = {"dwell": 30.0}
            rows.append(row)
            if len(rows) == 20000 or k == events - 1:
                with database.engine.begin() as conn:
                    conn.execute(insert(EventRow), rows)
                rows.clear()
        print(f"{db}: {events} events written in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- before


def counts_before(store: EventStore, interval: int, cameras: frozenset[str]) -> dict[str, Any]:
    """`/api/counts` before this change (no since/until): every matching event read through
    `store.query` a page at a time, then bucketed in Python."""

    def scan(type_: str) -> list[Any]:
        out: list[Any] = []
        offset = 0
        while True:
            page = store.query(type=type_, limit=PAGE, offset=offset, sources=cameras)
            out.extend(page)
            if len(page) < PAGE:
                return out
            offset += len(page)

    crossings, samples = scan("line_crossing"), scan("occupancy")
    times = [e.start_time for e in crossings] + [e.start_time for e in samples]
    origin = math.floor(min(times) / interval) * interval
    n = int((max(times) - origin) // interval) + 1
    cross: dict[tuple[Any, ...], list[int]] = {}
    for e in crossings:
        key = (e.source, e.app, e.line, e.class_name, str(e.attributes.get("direction")))
        cross.setdefault(key, [0] * n)[int((e.start_time - origin) // interval)] += 1
    occ: dict[tuple[Any, ...], list[list[int]]] = {}
    for e in samples:
        count = e.attributes.get("count")
        if isinstance(count, int):
            key = (e.source, e.app, e.zone)
            occ.setdefault(key, [[] for _ in range(n)])[
                int((e.start_time - origin) // interval)
            ].append(count)
    return {
        "buckets": n,
        "crossings": {str(k): v for k, v in sorted(cross.items())},
        "occupancy_max": {
            str(k): [max(b) if b else None for b in v] for k, v in sorted(occ.items())
        },
    }


def counts_now(store: EventStore, interval: int, cameras: frozenset[str]) -> dict[str, Any]:
    out = compute_counts(store, interval=interval, cameras=cameras)
    return {
        "buckets": len(out.buckets),
        "crossings": {
            str((s.camera, s.app, s.line, s.class_name, s.direction)): s.counts
            for s in sorted(
                out.line_crossings, key=lambda s: (s.camera, s.app, s.line, s.class_name)
            )
        },
        "occupancy_max": {str((s.camera, s.app, s.zone)): s.max for s in out.occupancy},
    }


# --------------------------------------------------------------------------- steps


def step(name: str, db: Path) -> dict[str, Any]:
    """Run one step in this process: seconds, peak RSS growth (MB) and a result summary."""
    default = CameraRetention()
    with Database(db) as database:
        store = EventStore(database)
        store.count()  # connect and warm the schema before measuring
        base = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again here
        started = time.perf_counter()
        now = time.time()
        if name == "counts-before":
            result: Any = counts_before(store, 86400, VIEWER)
        elif name == "counts-now":
            result = counts_now(store, 86400, VIEWER)
        elif name == "spans-before":
            events = store.query(since=now - 30 * DAY, limit=None)
            spans = [(e.source, e.start_time, e.end_time) for e in events]
            EventCover(spans, lambda _: default, now)
            result = len(spans)
        elif name == "spans-now":
            seen = [0]

            def counted(spans: Iterable[EventSpan]) -> Iterator[EventSpan]:
                for span in spans:
                    seen[0] += 1
                    yield span

            EventCover(counted(store.spans(now - 30 * DAY)), lambda _: default, now)
            result = seen[0]
        elif name == "delete-day":
            oldest = store.query(limit=1)[0].start_time
            result = store.delete_before(oldest + DAY)
        else:
            raise SystemExit(f"unknown step {name!r}")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _status_mb("VmHWM") - base, "result": result}


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def run_step(name: str, db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.db)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "events.db"
        fill(db, args.events, args.days)
        steps = ("counts-before", "counts-now", "spans-before", "spans-now")
        results = {name: run_step(name, db) for name in steps}
        same = results["counts-before"]["result"] == results["counts-now"]["result"]
        print(
            f"\n{'step':<8} {'before s':>9} {'now s':>8} {'x':>6} {'before MB':>10} {'now MB':>7}"
        )
        for what in ("counts", "spans"):
            before, now = results[f"{what}-before"], results[f"{what}-now"]
            print(
                f"{what:<8} {before['seconds']:>9.2f} {now['seconds']:>8.2f} "
                f"{before['seconds'] / max(now['seconds'], 1e-9):>6.0f} "
                f"{before['peak_mb']:>10.0f} {now['peak_mb']:>7.0f}"
            )
        print(f"counts identical before and now: {same}")
        deleted = run_step("delete-day", db)
        print(
            f"retention: {deleted['result']} events of the oldest day deleted in batches in "
            f"{deleted['seconds']:.2f} s, peak +{deleted['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
