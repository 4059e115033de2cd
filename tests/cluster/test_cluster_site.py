"""A cluster site for real: `vigil serve` on a 3-node Ray cluster of this machine, a real
PostgreSQL, real RTSP cameras (GStreamer), the tiny detector model.

Failover (a node's processes killed: its cameras run elsewhere within 30 s, no corrupt
segment, never two recorders of one camera), a killed camera worker restarted, a node that
loses its lease stops writing, a new node takes a fair share, a restarted head takes the
cameras over with new epochs. Ray runs only in a loopback-only network namespace here
(tests/cluster/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.accounts import site_admin_headers
from tests.rtsp.harness import RtspServer
from tests.service.test_serve_e2e import (
    ServiceLog,
    printed_url,
    running,
    start_service,
    stop_process,
    wait_for,
)

from vigil.cluster.leases import LeaseStore
from vigil.cluster.local import LocalRayCluster
from vigil.db.database import Database
from vigil.db.schema import SegmentRow

pytestmark = [pytest.mark.loopback_namespace]

CAMERAS = ("cam-a", "cam-b", "cam-c")
SEGMENT_S = 2.0
FAILOVER_S = 30.0


@dataclass
class ClusterSite:
    ray: LocalRayCluster
    database_url: str
    work: Path
    process: subprocess.Popen[bytes]
    url: str
    log: ServiceLog
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15.0))

    def cluster(self) -> dict[str, Any]:
        response = self.http.get(self.url + "/api/cluster")
        response.raise_for_status()
        return response.json()

    def placement(self) -> dict[str, str]:
        return {c: a["node"] for c, a in self.cluster()["assignments"].items()}

    def states(self) -> dict[str, str]:
        return {c["id"]: c["state"] for c in self.http.get(self.url + "/api/cameras").json()}

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        return wait_for(check, timeout, what, log=self.log)

    def all_online(self) -> bool:
        states = self.states()
        return all(states.get(c) == "online" for c in CAMERAS)


def site_yaml(rtsp: RtspServer, ray: LocalRayCluster, database_url: str, data: Path) -> str:
    cameras = "".join(
        textwrap.dedent(
            f"""\
            - id: {camera}
              url: {rtsp.url("/" + camera)}
              detect_fps: 3
              record: {{mode: continuous, segment_seconds: {SEGMENT_S:g}}}
              lines:
                middle: {{start: [0.5, 0.05], end: [0.5, 0.95]}}
              apps:
                - {{type: line_crossing, name: crossings, settings: {{line: middle}}}}
            """
        )
        for camera in CAMERAS
    )
    return (
        "cameras:\n"
        + textwrap.indent(cameras, "  ")
        + textwrap.dedent(
            f"""\
            detector: {{input_size: [416, 320], workers: 1}}
            storage: {{directory: {data}}}
            server: {{host: 127.0.0.1, port: 0}}
            cluster: {{address: "{ray.address}", database: "{database_url}", lease_seconds: 6,
                       token_file: {ray.token_file}}}
            """
        )
    )


@pytest.fixture(scope="module")
def cluster_site(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
    postgres_server: Any,
) -> Iterator[ClusterSite]:
    work = tmp_path_factory.mktemp("cluster")
    database_url = postgres_server.create_database("cluster_site")
    clip = rtsp_clip(width=416, height=320, fps=10, seconds=4)
    rtsp = RtspServer({f"/{c}": {"source": f"file:{clip}"} for c in CAMERAS}).start()
    ray = LocalRayCluster(3, work / "ray", cpus_per_node=1.0, cameras_per_node=3)
    ray.start()
    (work / "site.yaml").write_text(site_yaml(rtsp, ray, database_url, work / "data"))
    headers = site_admin_headers(database_url)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, tiny_models)
    try:
        url = printed_url(process, stdout, log, timeout=120)
        site = ClusterSite(ray, database_url, work, process, url, log)
        site.http.headers.update(headers)
        yield site
    finally:
        stop_process(process)
        ray.stop()
        rtsp.close()


def segments(database_url: str) -> list[SegmentRow]:
    database = Database(database_url)
    try:
        with database.read() as session:
            return list(session.scalars(select(SegmentRow)))
    finally:
        database.close()


def test_cameras_spread_over_nodes_and_report_through_the_head(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 90, "every camera online")
    status = site.cluster()
    placement = site.placement()
    assert set(placement) == set(CAMERAS)
    assert len(set(placement.values())) == 3, placement  # one per node: least loaded first
    nodes = {n["id"]: n for n in status["nodes"]}
    assert set(nodes) == {"head", "node-2", "node-3"}
    for node in nodes.values():
        assert node["alive"] and node["capacity"] == 3 and node["pids"], node
        assert all(running(pid) for pid in node["pids"]), node
    assert sum(n["head"] for n in nodes.values()) == 1
    # Through the agents, each camera says since when it is up, and nothing is wrong.
    cameras = site.http.get(site.url + "/api/cameras").json()
    assert all(c["since"] and c["reason"] is None for c in cameras), cameras
    # Each node records into its own folder and indexes where the file is.
    site.wait(lambda: {s.camera for s in segments(site.database_url)} >= set(CAMERAS), 30,
              "segments of every camera")  # fmt: skip
    for row in segments(site.database_url):
        assert row.node == placement[row.camera] or row.node is not None
        assert f"/nodes/{row.node}/" in row.path


def test_a_dead_node_loses_its_cameras_to_the_others_within_30_s(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    before = site.placement()
    victim = next(n for n in ("node-2", "node-3") if n in before.values())
    moved = sorted(c for c, n in before.items() if n == victim)
    killed_at = time.monotonic()
    site.ray.kill_node(victim)

    def moved_and_online() -> bool:
        now = site.placement()
        states = site.states()
        return all(now.get(c) not in (None, victim) and states.get(c) == "online" for c in moved)

    site.wait(moved_and_online, FAILOVER_S + 10, f"{moved} running elsewhere")
    took = time.monotonic() - killed_at
    assert took <= FAILOVER_S, took
    after = site.placement()
    assert all(after[c] == before[c] for c in before if c not in moved)  # nothing else moved
    moves = [m for m in site.cluster()["moves"] if m["camera"] in moved]
    assert any(victim in m["why"] for m in moves), moves
    # Never two recorders: one camera's indexed segments do not overlap in time.
    time.sleep(2 * SEGMENT_S + 1)
    by_camera: dict[str, list[SegmentRow]] = {}
    for row in segments(site.database_url):
        by_camera.setdefault(row.camera, []).append(row)
    for camera, rows in by_camera.items():
        rows.sort(key=lambda r: r.start_time)
        for earlier, later in zip(rows, rows[1:]):
            assert later.start_time >= earlier.end_time - 0.5, (camera, earlier.path, later.path)
    # No corrupt segment: every indexed file that is on a live node plays.
    for row in segments(site.database_url):
        if row.node != victim:
            probe = subprocess.run(
                ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                 "stream=nb_read_frames", "-of", "csv=p=0", row.path],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert probe.returncode == 0 and int(probe.stdout.strip() or 0) > 0, (row.path, probe)


def test_a_killed_camera_worker_is_restarted(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    node = next(n for n in site.cluster()["nodes"] if n["alive"] and n["cameras"])
    workers = node["pids"][3:]  # raylet, agent, detector, then the camera workers
    assert workers, node
    os.kill(workers[0], signal.SIGKILL)
    site.wait(lambda: not running(workers[0]), 10, "the worker gone")

    def restarted() -> bool:
        now = next(n for n in site.cluster()["nodes"] if n["id"] == node["id"])
        return len(now["pids"]) == len(node["pids"]) and workers[0] not in now["pids"]

    site.wait(restarted, 30, "a new worker")
    site.wait(site.all_online, 30, "every camera online again")


def test_a_node_that_lost_its_lease_stops_and_its_writes_are_refused(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    camera, node = sorted(site.placement().items())[0]
    database = Database(site.database_url)
    try:
        taken = LeaseStore(database).grant(camera, "elsewhere")  # as a head across a partition
        granted_at = time.time()
        # The node finds out at its next renewal (a third of the 6 s lease) and stops it;
        # the head then gives it a lease again, with a newer epoch.
        site.wait(lambda: site.cluster()["assignments"][camera]["epoch"] > taken.epoch, 30,
                  "the camera placed again under a newer epoch")  # fmt: skip
        again = site.cluster()["assignments"][camera]
        placed_again = float(again["since"])  # epoch seconds
        # What the old holder recorded after it lost the lease was not indexed.
        stale = [
            r for r in segments(site.database_url)
            if r.camera == camera and r.node == node
            and r.end_time > granted_at + 0.5 and r.start_time < placed_again
        ]  # fmt: skip
        assert not stale, [r.path for r in stale]
    finally:
        database.close()
    site.wait(site.all_online, 30, "every camera online again")


def test_a_new_node_takes_a_fair_share(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    site.ray.add_node("node-4", cpus=1.0, cameras=3)
    site.wait(lambda: "node-4" in site.placement().values(), 40, "a camera on node-4")
    moves = [m for m in site.cluster()["moves"] if m["to_node"] == "node-4"]
    assert moves and all("rebalanced" in m["why"] for m in moves), moves
    site.wait(site.all_online, 30, "every camera online again")


def test_a_restarted_head_takes_the_cameras_over(cluster_site: ClusterSite, tiny_models: Path):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    epochs = {c: a["epoch"] for c, a in site.cluster()["assignments"].items()}
    site.process.send_signal(signal.SIGKILL)
    site.process.wait(10)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], site.work, tiny_models,
                                         name="vigil-again")  # fmt: skip
    site.process, site.log = process, log
    site.url = printed_url(process, stdout, log, timeout=120)
    site.wait(site.all_online, 90, "every camera online after the restart")
    again = {c: a["epoch"] for c, a in site.cluster()["assignments"].items()}
    assert all(again[c] > epochs[c] for c in CAMERAS), (epochs, again)


def test_a_killed_node_agent_is_replaced_and_its_cameras_run_again(cluster_site: ClusterSite):
    site = cluster_site
    site.wait(site.all_online, 60, "every camera online")
    node = next(n for n in site.cluster()["nodes"] if n["alive"] and n["cameras"])
    agent = node["pids"][1]  # raylet, then the agent
    os.kill(agent, signal.SIGKILL)
    site.wait(lambda: not running(agent), 10, "the agent gone")

    def replaced() -> bool:
        now = next(n for n in site.cluster()["nodes"] if n["id"] == node["id"])
        return now["alive"] and len(now["pids"]) > 1 and now["pids"][1] != agent

    site.wait(replaced, 60, f"a new agent on {node['id']}")
    site.wait(site.all_online, 40, "every camera online again")
