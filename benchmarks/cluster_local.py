"""How long the local pieces of a Vigil cluster take to start and stop on this machine.

Per round (median and range over ``--rounds`` printed at the end, seconds):

* PostgreSQL (`vigil.cluster.postgres.PrivatePostgres`): first start (``initdb`` included),
  stop, start again on the kept data, stop.
* Ray (`vigil.cluster.local.LocalRayCluster`, ``--nodes`` nodes of 1 CPU): start until every
  node is alive in the GCS; one node added; one node killed (until its processes are gone)
  and until Ray marks it dead (with `FAST_DEATH_DETECTION`; ``--ray-defaults`` for Ray's own
  health-check settings); stop until no process of the cluster is left.

The Ray part runs inside a loopback-only network namespace (the script re-runs itself under
``unshare --net`` when it is outside one: Ray would otherwise advertise the host's address).

    python benchmarks/cluster_local.py [--nodes 3] [--rounds 3] [--ray-defaults]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import ray

from vigil.cluster.local import (
    FAST_DEATH_DETECTION,
    NODE_LABEL,
    LocalRayCluster,
    in_loopback_namespace,
    loopback_namespace_command,
)
from vigil.cluster.postgres import PrivatePostgres


def timed(times: dict[str, list[float]], what: str, started: float) -> None:
    times[what].append(time.monotonic() - started)
    print(f"  {what:<28} {times[what][-1]:6.2f} s", flush=True)


def postgres_round(times: dict[str, list[float]], folder: Path) -> None:
    server = PrivatePostgres(folder / "pg")
    started = time.monotonic()
    server.start()
    timed(times, "postgres first start (initdb)", started)
    started = time.monotonic()
    server.stop()
    timed(times, "postgres stop", started)
    started = time.monotonic()
    server.start()
    timed(times, "postgres restart (kept data)", started)
    server.stop()


def ray_round(times: dict[str, list[float]], folder: Path, nodes: int, ray_defaults: bool) -> None:
    env = {} if ray_defaults else FAST_DEATH_DETECTION
    cluster = LocalRayCluster(nodes, folder / "ray", cpus_per_node=1, env=env)
    try:
        started = time.monotonic()
        address = cluster.start()
        timed(times, f"ray start ({nodes} nodes)", started)
        started = time.monotonic()
        cluster.add_node("extra", cpus=1)
        timed(times, "ray add one node", started)
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        started = time.monotonic()
        cluster.kill_node("extra")
        timed(times, "ray kill node (processes)", started)
        while any(n["Alive"] and n["Labels"][NODE_LABEL] == "extra" for n in ray.nodes()):
            time.sleep(0.1)
        timed(times, "ray marks killed node dead", started)
    finally:
        ray.shutdown()
        started = time.monotonic()
        cluster.stop()
        timed(times, "ray stop (no process left)", started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray-defaults", action="store_true")
    args = parser.parse_args()
    if not in_loopback_namespace():
        command = loopback_namespace_command([sys.executable, *sys.argv])
        return subprocess.run(command, env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    times: dict[str, list[float]] = defaultdict(list)
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}/{args.rounds}", flush=True)
        # PostgreSQL runs as the postgres user under root: a folder it can reach.
        folder = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
        folder.chmod(0o755)
        try:
            postgres_round(times, folder)
            ray_round(times, folder, args.nodes, args.ray_defaults)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'':<30}median    min    max  (s, {args.rounds} rounds, {os.cpu_count()} CPUs)")
    for what, values in times.items():
        print(f"{what:<30}{statistics.median(values):6.2f} {min(values):6.2f} {max(values):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
