"""Overhead of running an app sandboxed (`vigil.sandbox.SandboxedApp`) instead of in-process.

The same app — the built-in ``occupancy`` — runs both ways on the same synthetic frames:
``--objects`` tracked boxes moving across a 1280x720 frame, at ``--fps`` for ``--frames``
frames. The sandboxed one is installed like a store app (an empty site dir, the entry point
naming Vigil's own class) and runs under bubblewrap where it works here.

Printed per frame, p50 and p99 (milliseconds):

* ``process()``: what the pipeline waits for. In-process that is the app's own work; for
  the sandbox it is sending the frame and reading the answers already waiting (the app works
  in its own process meanwhile). The overhead is the difference, also as a ratio.
* ``answer``: for the sandbox, from the frame being sent to its answer being ready to read
  (the next ``process()`` reads it: events lag by one frame, plus this).
* CPU per frame: in-process; sandboxed = this process + the sandbox's process tree (the
  serialisation on both sides, the socket, the second interpreter): the machine's overhead.

    python benchmarks/app_isolation.py [--frames 300] [--fps 15] [--objects 50]
"""

from __future__ import annotations

import argparse
import resource
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vigil.apps.base import FrameContext, Scene
from vigil.apps.manifest import manifest_for_class
from vigil.apps.occupancy import Occupancy
from vigil.detection.detections import Detections
from vigil.geometry.shapes import Zone
from vigil.sandbox import SandboxedApp
from vigil.sandbox.bwrap import launcher

WIDTH, HEIGHT = 1280, 720
SETTINGS = {"zone": "half", "classes": ["person"], "report_interval": 1.0}


def frames(n_frames: int, n_objects: int, fps: float) -> list[tuple[FrameContext, Detections]]:
    rng = np.random.default_rng(0)
    start = rng.uniform([0, 0], [WIDTH - 60, HEIGHT - 120], (n_objects, 2))
    speed = rng.uniform(-3, 3, (n_objects, 2))
    out = []
    for i in range(n_frames):
        xy = np.abs((start + i * speed) % [WIDTH - 60, HEIGHT - 120])
        xyxy = np.concatenate([xy, xy + [40, 100]], axis=1).astype(np.float32)
        objects = Detections(
            xyxy,
            np.full(n_objects, 0.8, np.float32),
            np.zeros(n_objects, np.int64),
            np.arange(1, n_objects + 1),
        )
        out.append((FrameContext("bench", i, i / fps, WIDTH, HEIGHT), objects))
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def run(app, feed, fps: float, wait_answer: bool) -> tuple[list[float], list[float], int]:
    """Per-frame process() seconds, answer latencies, events; paced at `fps`."""
    calls, answers, events = [], [], 0
    start = time.monotonic()
    for i, (ctx, objects) in enumerate(feed):
        t0 = time.perf_counter()
        events += len(app.process(ctx, objects))
        calls.append(time.perf_counter() - t0)
        if wait_answer and app._child is not None:
            # the answer is in once the sandbox's socket is readable (the next call reads it)
            select.select([app._child.sock], [], [], 1.0)
            answers.append(time.perf_counter() - t0)
        time.sleep(max(0.0, start + (i + 1) / fps - time.monotonic()))
    return calls, answers, events


def cpu_of_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--objects", type=int, default=50)
    args = parser.parse_args()
    zone = Zone("half", [(0, 0), (WIDTH / 2, 0), (WIDTH / 2, HEIGHT), (0, HEIGHT)])
    scene = Scene.build(WIDTH, HEIGHT, zones=[zone], class_names=["person"])
    feed = frames(args.frames, args.objects, args.fps)
    warm = frames(30, args.objects, args.fps)

    inproc = Occupancy("occupancy", Occupancy.Settings.model_validate(SETTINGS), scene)
    run(inproc, warm, 1000.0, False)
    cpu0 = cpu_of_self()
    in_calls, _, in_events = run(inproc, feed, args.fps, False)
    in_cpu = cpu_of_self() - cpu0

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir(mode=0o755)
        Path(tmp).chmod(0o755)
        boxed = SandboxedApp(manifest_for_class(Occupancy), site, "occupancy", SETTINGS, scene)
        try:
            run(boxed, warm, args.fps, True)  # starts the sandbox and waits for it
            if boxed.status()["state"] != "running":
                print(f"sandbox did not run: {boxed.status()}", file=sys.stderr)
                return 1
            cpu0 = cpu_of_self()
            proc = boxed._child.proc
            child0 = _tree_cpu(proc.pid)
            sb_calls, sb_answers, sb_events = run(boxed, feed, args.fps, True)
            sb_child_cpu = _tree_cpu(proc.pid) - child0
            sb_cpu = cpu_of_self() - cpu0
            status = boxed.status()
        finally:
            boxed.close()

    n = len(feed)
    print(
        f"app_isolation: occupancy, {args.objects} tracked objects, {n} frames at "
        f"{args.fps:g} fps; sandbox: {'bubblewrap' if launcher().sandboxed else 'NONE'} "
        f"({status['state']}, {status['restarts']} restarts)"
    )
    print(f"{'':24}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, values in (("in-process process()", in_calls), ("sandboxed process()", sb_calls)):
        print(f"{label:24}{pct(values, 50):9.3f}{pct(values, 99):9.3f}{max(values) * 1000:9.3f}")
    print(
        f"{'sandboxed answer':24}{pct(sb_answers, 50):9.3f}{pct(sb_answers, 99):9.3f}"
        f"{max(sb_answers) * 1000:9.3f}"
    )
    d50 = pct(sb_calls, 50) - pct(in_calls, 50)
    d99 = pct(sb_calls, 99) - pct(in_calls, 99)
    r50 = statistics.median(sb_calls) / statistics.median(in_calls)
    r99 = np.percentile(sb_calls, 99) / np.percentile(in_calls, 99)
    cpu_over = (sb_cpu + sb_child_cpu - in_cpu) / n * 1000
    print(
        f"overhead per frame, pipeline wait: p50 {d50:+.3f} ms (x{r50:.2f}), "
        f"p99 {d99:+.3f} ms (x{r99:.2f})"
    )
    print(
        f"CPU per frame: in-process {in_cpu / n * 1000:.3f} ms; sandboxed "
        f"{sb_cpu / n * 1000:.3f} ms here + {sb_child_cpu / n * 1000:.3f} ms in the sandbox "
        f"= overhead {cpu_over:+.3f} ms"
    )
    passed = d99 < 1 and cpu_over < 1
    print(f"events: in-process {in_events}, sandboxed {sb_events}")
    print(f"target < 1 ms per frame (pipeline wait p99 and CPU): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def _tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its descendants (bubblewrap and the host), from /proc."""
    tick = 100.0
    total, frontier = 0.0, {pid}
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    seen: set[int] = set()
    while frontier:
        seen |= frontier
        total += sum(stats[p][1] for p in frontier if p in stats)
        frontier = {p for p, (parent, _) in stats.items() if parent in frontier} - seen
    return total / tick


if __name__ == "__main__":
    sys.exit(main())
