"""A cluster site on this machine, measured: failover time and the cluster's CPU overhead.

    python benchmarks/cluster.py --failover [--kills 5] [--nodes 3] [--cameras 4]
    python benchmarks/cluster.py --overhead [--nodes 3] [--cameras 6] [--duration 60]

Ray runs in a loopback-only network namespace (`unshare --net`, as root): the script re-runs
itself there when it is not in one. Everything is local: a private PostgreSQL
(`vigil.cluster.postgres`), a local Ray cluster of --nodes node processes
(`vigil.cluster.local`), `vigil serve` as a child process, and --cameras looping cameras of
the sample clip (transcoded once to H.264, as `vigil demo` does; detect_fps 5, continuous
recording, a counting line) with the real model (VIGIL_MODELS, default ../shared/models).

Failover: --kills times, a worker node that runs cameras is killed (every process of that Ray
node: SIGKILL, a machine gone) and started again; per kill, the seconds until each of its
cameras processes frames again on another node (its `vigil_frames_processed_total` grows and
/api/cluster places it elsewhere). Printed: every time, p50 and p95 (target p95 <= 30 s), the
cameras that moved that did not have to (target 0), and afterwards the indexed segments that
do not decode (target 0) and overlapping segments of one camera from two nodes (duplicate
recorders, target 0).

Overhead: the machine's busy CPU seconds (/proc/stat) over --duration seconds, once for
`vigil serve` with the cameras on this machine (the baseline, SQLite) and once for the same
cameras on the local cluster (PostgreSQL); printed as the ratio (target <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import psutil
import yaml
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from service_density import Service, admin_token, machine_cpu_s  # noqa: E402

from vigil.cluster.local import (  # noqa: E402
    LocalRayCluster,
    in_loopback_namespace,
    loopback_namespace_command,
)
from vigil.cluster.postgres import PrivatePostgres  # noqa: E402
from vigil.db.database import Database  # noqa: E402
from vigil.db.schema import SegmentRow  # noqa: E402
from vigil.service.demo import camera_clip  # noqa: E402

SHARED = ROOT.parent / "shared"


def reexec_in_namespace() -> None:
    """Run this script again in a new network namespace holding only loopback."""
    if not in_loopback_namespace():
        sys.exit(subprocess.call(loopback_namespace_command([sys.executable, *sys.argv])))


def site(clip: Path, cameras: int, data: Path, cluster: dict[str, Any] | None) -> dict[str, Any]:
    scene = {
        "detect_fps": 5,
        "loop": True,
        "record": {"mode": "continuous", "segment_seconds": 4},
        "lines": {"middle": {"start": [0.5, 0.05], "end": [0.5, 0.95]}},
        "apps": [{"type": "line_crossing", "name": "crossings", "settings": {"line": "middle"}}],
    }
    document: dict[str, Any] = {
        "cameras": [{"id": f"cam-{i + 1}", "url": str(clip), **scene} for i in range(cameras)],
        "detector": {"workers": 1},
        "storage": {"directory": str(data)},
        "server": {"host": "127.0.0.1", "port": 0},
    }
    if cluster is not None:
        document["cluster"] = cluster
    return document


@contextmanager
def serve(directory: Path, document: dict[str, Any]) -> Iterator[Service]:
    path = directory / "site.yaml"
    path.write_text(yaml.safe_dump(document))
    service = Service(path, directory, admin_token(path))
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def cluster_stack(
    work: Path, nodes: int, cameras: int, clip: Path
) -> Iterator[tuple[LocalRayCluster, Service]]:
    postgres = PrivatePostgres(work / "postgres")
    url = postgres.start()
    ray = LocalRayCluster(nodes, work / "ray", cpus_per_node=1.0, cameras_per_node=cameras)
    try:
        address = ray.start()
        document = site(clip, cameras, work / "data", {"address": address, "database": url, "token_file": str(ray.token_file),
                                                        "lease_seconds": 10})  # fmt: skip
        with serve(work, document) as service:
            yield ray, service, url
    finally:
        ray.stop()
        postgres.stop()


def wait_online(service: Service, cameras: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {c["id"]: c["state"] for c in service.api("cameras")}
        if len(states) == cameras and all(s == "online" for s in states.values()):
            return
        time.sleep(0.5)
    raise SystemExit(f"cameras not online within {timeout:.0f} s: {states}")


def processed(service: Service) -> dict[str, float]:
    """Frames processed so far, per camera (/metrics)."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(service.metrics()):
        for sample in family.samples:
            if sample.name == "vigil_frames_processed_total":
                counts[sample.labels["camera"]] = sample.value
    return counts


def placement(service: Service) -> dict[str, str]:
    return {c: a["node"] for c, a in service.api("cluster")["assignments"].items()}


def wait_rebalanced(service: Service, node: str, timeout: float = 120.0) -> None:
    """Until the node that came back runs a camera again (its fair share)."""
    deadline = time.monotonic() + timeout
    while node not in placement(service).values():
        if time.monotonic() > deadline:
            raise SystemExit(f"node {node} got no camera back within {timeout:.0f} s")
        time.sleep(0.5)


def failover(args: argparse.Namespace, clip: Path, work: Path) -> None:
    times: list[float] = []
    needless = 0
    with cluster_stack(work, args.nodes, args.cameras, clip) as (ray, service, url):
        wait_online(service, args.cameras)
        for kill in range(args.kills):
            before_kill = placement(service)
            victim = next(n for n in sorted(set(before_kill.values())) if n != "head")
            moved = {c for c, n in before_kill.items() if n == victim}
            before = processed(service)
            killed = time.monotonic()
            ray.kill_node(victim)
            back: dict[str, float] = {}
            while len(back) < len(moved) and time.monotonic() - killed < 120:
                now = placement(service)
                counts = processed(service)
                for camera in moved - back.keys():
                    if now.get(camera) not in (None, victim) and counts.get(camera, 0) > before.get(
                        camera, 0
                    ):
                        back[camera] = time.monotonic() - killed
                time.sleep(0.25)
            after = placement(service)
            needless += sum(
                1 for c, n in before_kill.items() if c not in moved and after.get(c) != n
            )
            times += list(back.values())
            print(f"kill {kill + 1}: node {victim} with {sorted(moved)}: back in "
                  + ", ".join(f"{c} {t:.1f} s" for c, t in sorted(back.items())), flush=True)  # fmt: skip
            ray.add_node(victim, cpus=1.0, cameras=args.cameras)  # the machine comes back
            wait_rebalanced(service, victim)
            wait_online(service, args.cameras)
        time.sleep(5)
        corrupt, overlaps = check_segments(url)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) >= 2 else max(times, default=0)
    print(f"\nfailover over {args.kills} kills ({len(times)} camera moves): "
          f"p50 {statistics.median(times):.1f} s, p95 {p95:.1f} s, max {max(times):.1f} s "
          f"(target p95 <= 30 s); cameras moved needlessly: {needless}; "
          f"corrupt segments: {corrupt}; duplicate recorders (overlapping segments): {overlaps}")  # fmt: skip


def check_segments(database_url: str) -> tuple[int, int]:
    """Indexed segments whose file does not decode, and pairs of one camera's segments from
    two nodes that overlap in time (two recorders at once)."""
    with Database(database_url) as database, database.read() as session:
        rows = list(
            session.scalars(select(SegmentRow).order_by(SegmentRow.camera, SegmentRow.start_time))
        )
    corrupt = 0
    for row in rows:
        try:
            with av.open(row.path) as container:
                if not any(True for _ in container.decode(video=0)):
                    corrupt += 1
        except (av.error.FFmpegError, OSError):
            corrupt += 1
    overlaps = sum(
        1
        for a, b in zip(rows, rows[1:])
        if a.camera == b.camera and a.node != b.node and b.start_time < a.end_time - 0.5
    )
    return corrupt, overlaps


def overhead(args: argparse.Namespace, clip: Path, work: Path) -> None:
    results: dict[str, tuple[float, float]] = {}
    single = work / "single"
    single.mkdir()
    with serve(single, site(clip, args.cameras, single / "data", None)) as service:
        wait_online(service, args.cameras)
        tree = lambda: process_tree(service.process.pid)  # noqa: E731
        results["vigil serve (one box)"] = busy_cpu(tree, args.duration, args.warmup)
    cluster = work / "cluster"
    with cluster_stack(cluster, args.nodes, args.cameras, clip) as (ray, service, _url):
        wait_online(service, args.cameras)

        def everything() -> set[int]:
            pids = process_tree(service.process.pid)
            for name in ray.node_names():
                pids.update(ray.pids(name))
            return pids | postgres_pids(cluster / "postgres")

        results[f"{args.nodes}-node local cluster"] = busy_cpu(
            everything, args.duration, args.warmup
        )
    base = results["vigil serve (one box)"][0]
    print(f"\n{args.cameras} cameras, {args.duration:.0f} s each; CPU of every process of each "
          "setup (vigil serve and its children; the Ray nodes and PostgreSQL), and of the machine:")  # fmt: skip
    for name, (own, machine) in results.items():
        print(f"  {name:<28} {own:7.1f} CPU-s  {own / args.duration * 100:5.0f} % of a core  "
              f"x{own / base:.2f}   (machine busy: {machine:6.1f} CPU-s)")  # fmt: skip
    print("target: cluster <= x1.30")


def process_tree(root: int) -> set[int]:
    try:
        parent = psutil.Process(root)
        return {root, *(child.pid for child in parent.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def postgres_pids(folder: Path) -> set[int]:
    """The private PostgreSQL's processes (the server's command line names its folder; its
    children are the backends)."""
    found: set[int] = set()
    for process in psutil.process_iter(["cmdline"]):
        if str(folder) in " ".join(process.info["cmdline"] or ()):
            found |= process_tree(process.pid)
    return found


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    times = {}
    for pid in pids:
        try:
            cpu = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        times[pid] = cpu.user + cpu.system
    return times


def busy_cpu(pids: Callable[[], set[int]], duration: float, warmup: float) -> tuple[float, float]:
    """CPU seconds the processes `pids()` used over `duration` seconds (those that started
    meanwhile counted whole), and the machine's busy CPU seconds over the same time."""
    time.sleep(warmup)
    before, machine = cpu_seconds(pids()), machine_cpu_s()
    time.sleep(duration)
    after, machine = cpu_seconds(pids()), machine_cpu_s() - machine
    return sum(t - before.get(pid, 0.0) for pid, t in after.items()), machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--failover", action="store_true")
    mode.add_argument("--overhead", action="store_true")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cameras", type=int)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench")
    args = parser.parse_args()
    args.cameras = args.cameras or (6 if args.overhead else 4)
    os.environ.setdefault("VIGIL_MODELS", str(SHARED / "models"))
    reexec_in_namespace()
    args.cache.mkdir(parents=True, exist_ok=True)
    clip = camera_clip(SHARED / "data" / "vtest.avi", args.cache)
    with tempfile.TemporaryDirectory(prefix="vigil-cluster-bench-") as tmp:
        Path(tmp).chmod(0o755)  # PostgreSQL runs as its own user under root
        (failover if args.failover else overhead)(args, clip, Path(tmp))


if __name__ == "__main__":
    main()
