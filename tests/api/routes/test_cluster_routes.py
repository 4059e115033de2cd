"""The cluster in the API: ``GET /api/cluster``, the node of each camera and segment, and
playback, clips, exports and snapshots of files another node recorded (read through
`ClusterControl.node_file`; a 503 naming a node that is down).

The cluster is `api.nodes.FolderCluster`, the API's own protocol over folders.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts import bearer, user_token
from api.nodes import REMOTE_ROOT, SINCE, FolderCluster
from api.site import (
    REAL_RECORDING_MODULE,
    T0,
    Site,
    TestClient,
    event,
    is_mp4,
    jpeg,
    mp4_seconds,
    wait_for_job,
    write_mp4,
)
from vigil.api import deps as api_deps
from vigil.api.app import create_app
from vigil.api.cluster import (
    MoveView,
    NodeUnavailable,
)
from vigil.recording.index import Segment, SegmentIndex
from vigil.recording.segments import SegmentInfo


@dataclass
class ClusterSite:
    site: Site
    cluster: FolderCluster
    client: TestClient

    def segment(
        self, node: str, camera: str, start: float, end: float, frames: int = 10
    ) -> Segment:
        """A real MP4 on `node`'s disk (the head's is this machine's), indexed by that node."""
        name = f"{camera}/{start:.0f}.mp4"
        if node == "head":
            path = on_disk = self.site.tmp / "data" / "nodes" / node / "recordings" / name
        else:
            path = REMOTE_ROOT / node / "recordings" / name
            on_disk = self.cluster.disk_path(node, path)
        write_mp4(on_disk, frames, fps=10)
        info = SegmentInfo(camera, str(path), start, end, on_disk.stat().st_size)
        segment = SegmentIndex(self.site.store.database, node).add(info)
        assert segment is not None and segment.node == node
        return segment


@pytest.fixture
def cluster_site(site: Site) -> Iterator[ClusterSite]:
    cluster = FolderCluster(site.tmp / "disks", site.tmp / "fetched")
    site.state.index = SegmentIndex(site.store.database)  # the head's: every node's rows
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    app = create_app(site.state, auth, cluster=cluster)
    with TestClient(app, headers=bearer(user_token(auth))) as client:
        yield ClusterSite(site, cluster, client)


# --------------------------------------------------------------------------- GET /api/cluster


def test_cluster_answers_nodes_assignments_and_moves(cluster_site: ClusterSite) -> None:
    cluster_site.cluster.moves = [
        MoveView("cam2", "head", "node-2", SINCE.replace(minute=5), "rebalanced onto node-2"),
        MoveView("cam2", "node-3", "head", SINCE.replace(minute=1), "node node-3 is down"),
    ]
    r = cluster_site.client.get("/api/cluster")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "nodes": [
            {"id": "head", "alive": True, "head": True, "address": "127.0.0.1",
             "pids": [101, 102], "cameras": ["cam1"], "capacity": 4, "load": 0.25},
            {"id": "node-2", "alive": True, "head": False, "address": "127.0.0.2",
             "pids": [201], "cameras": ["cam2"], "capacity": 2, "load": 0.5},
        ],
        "assignments": {
            "cam1": {"node": "head", "epoch": 3, "since": SINCE.timestamp()},
            "cam2": {"node": "node-2", "epoch": 7, "since": SINCE.timestamp() + 300},
        },
        "moves": [  # newest first
            {"camera": "cam2", "from_node": "head", "to_node": "node-2",
             "at": SINCE.timestamp() + 300, "why": "rebalanced onto node-2"},
            {"camera": "cam2", "from_node": "node-3", "to_node": "head",
             "at": SINCE.timestamp() + 60, "why": "node node-3 is down"},
        ],
    }  # fmt: skip


def test_cluster_is_for_admins_only(cluster_site: ClusterSite) -> None:
    auth = cluster_site.client.app.state.auth  # type: ignore[attr-defined]
    for role in ("viewer", "operator"):
        headers = bearer(user_token(auth, role, role))
        assert cluster_site.client.get("/api/cluster", headers=headers).status_code == 403
    anonymous = TestClient(cluster_site.client.app)  # type: ignore[arg-type]
    assert anonymous.get("/api/cluster").status_code == 401


def test_a_single_box_says_it_is_not_a_cluster(site: Site) -> None:
    r = site.client.get("/api/cluster")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "not a cluster: this service runs on one machine "
        "(its site has no cluster section)"
    }
    assert {c["node"] for c in site.client.get("/api/cameras").json()} == {None}


def test_cameras_name_the_node_they_run_on(cluster_site: ClusterSite) -> None:
    cameras = cluster_site.client.get("/api/cameras").json()
    assert {c["id"]: c["node"] for c in cameras} == {"cam1": "head", "cam2": "node-2", "lab": None}
    assert cluster_site.client.get("/api/cameras/cam2").json()["node"] == "node-2"


# --------------------------------------------------------------------------- files on nodes


def test_a_remote_segment_is_served_through_node_file(cluster_site: ClusterSite) -> None:
    here = cluster_site.segment("head", "cam2", T0, T0 + 10)
    there = cluster_site.segment("node-2", "cam2", T0 + 10, T0 + 20)
    assert not Path(there.path).exists()  # on the other machine only
    listing = cluster_site.client.get(f"/api/recordings?camera=cam2&start={T0}&end={T0 + 30}")
    assert [s["node"] for s in listing.json()["segments"]] == ["head", "node-2"]
    r = cluster_site.client.get(f"/api/recordings/segments/{there.id}.mp4")
    assert r.status_code == 200, r.text
    assert r.content == cluster_site.cluster.disk_path("node-2", Path(there.path)).read_bytes()
    assert is_mp4(r.content)
    r = cluster_site.client.get(f"/api/recordings/segments/{here.id}.mp4")
    assert r.status_code == 200 and r.content == Path(here.path).read_bytes()
    # The head's own file is read where it is: only the remote one was fetched.
    assert cluster_site.cluster.fetched == [("node-2", Path(there.path))]


def test_a_segment_on_a_down_node_is_503_naming_the_node(cluster_site: ClusterSite) -> None:
    there = cluster_site.segment("node-2", "cam2", T0, T0 + 10)
    cluster_site.cluster.down.add("node-2")
    r = cluster_site.client.get(f"/api/recordings/segments/{there.id}.mp4")
    assert r.status_code == 503
    assert r.json() == {"detail": "recording is on node 'node-2', which is down"}
    body = {"camera": "cam2", "start": T0, "end": T0 + 10}
    for response in (
        cluster_site.client.post("/api/recordings/exports", json=body),
        cluster_site.client.get(f"/api/recordings/export?camera=cam2&start={T0}&end={T0 + 10}"),
    ):
        assert response.status_code == 503
        assert response.json()["detail"] == "recording is on node 'node-2', which is down"


def test_a_node_lost_while_an_export_reads_it_is_503(cluster_site: ClusterSite) -> None:
    cluster_site.segment("node-2", "cam2", T0, T0 + 10)
    cluster_site.cluster.unreachable.add("node-2")  # alive by the head's last look
    r = cluster_site.client.get(f"/api/recordings/export?camera=cam2&start={T0}&end={T0 + 10}")
    assert r.status_code == 503
    assert r.json() == {"detail": "recording is on node 'node-2', which is down"}
    body = {"camera": "cam2", "start": T0, "end": T0 + 10}
    job = cluster_site.client.post("/api/recordings/exports", json=body).json()
    polled = dataclasses.replace(cluster_site.site, client=cluster_site.client)
    failed = wait_for_job(polled, job["id"], "failed")
    assert failed["error"] == "recording is on node 'node-2', which is down"


def test_node_unavailable_crosses_a_pickle_whole() -> None:
    error = pickle.loads(pickle.dumps(NodeUnavailable("gpu-1", "snapshot")))
    assert isinstance(error, NodeUnavailable) and error.node == "gpu-1"
    assert str(error) == "snapshot is on node 'gpu-1', which is down"


def test_clips_and_exports_cut_footage_of_several_nodes(
    cluster_site: ClusterSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_deps, "load_recording", REAL_RECORDING_MODULE)
    for k, node in enumerate(("head", "node-2", "node-2")):
        cluster_site.segment(node, "cam2", T0 + 2 * k, T0 + 2 * k + 2, frames=20)
    ev = event(T0 + 3, "cam2")
    cluster_site.site.store.add([ev])
    client = cluster_site.client
    for url, seconds in (  # 2 s would mean the remote segments were skipped
        (f"/api/recordings/export?camera=cam2&start={T0 + 1}&end={T0 + 5}", 5.0),
        (f"/api/events/{ev.id}/clip.mp4", 6.0),
    ):
        r = client.get(url)
        assert r.status_code == 200, r.text
        assert is_mp4(r.content) and mp4_seconds(r.content, cluster_site.site.tmp) == pytest.approx(
            seconds, abs=0.5
        )
    job = client.post(
        "/api/recordings/exports", json={"camera": "cam2", "start": T0 + 1, "end": T0 + 5}
    )
    polled = dataclasses.replace(cluster_site.site, client=client)  # this app's jobs
    assert wait_for_job(polled, job.json()["id"], "done")["percent"] == 100
    assert {node for node, _ in cluster_site.cluster.fetched} == {"node-2"}

    cluster_site.cluster.down.add("node-2")
    late = event(T0 + 4, "cam2")
    cluster_site.site.store.add([late])
    r = client.get(f"/api/events/{late.id}/clip.mp4")
    assert r.status_code == 503
    assert r.json() == {"detail": "recording is on node 'node-2', which is down"}
    assert not list((cluster_site.site.state.exports_dir / "clips").glob(".tmp-*"))


def test_an_event_snapshot_is_read_from_the_node_that_made_it(cluster_site: ClusterSite) -> None:
    state, cluster, client = cluster_site.site.state, cluster_site.cluster, cluster_site.client
    remote, here = event(T0, "cam2"), event(T0, "cam1")
    cluster_site.site.store.add([remote], node="node-2")
    cluster_site.site.store.add([here], node="head")
    path = state.node_snapshot_path("node-2", remote)
    assert path == state.storage / "nodes" / "node-2" / "snapshots" / "cam2" / f"{remote.id}.jpg"
    # One on another node is listed without fetching it (a copy per listed event is too dear).
    listed = client.get(f"/api/events/{remote.id}").json()
    assert listed["snapshot_url"] == f"/api/events/{remote.id}/snapshot.jpg"
    assert client.get(listed["snapshot_url"]).status_code == 404  # node-2 has no such file
    disk = cluster.disk_path("node-2", path)
    disk.parent.mkdir(parents=True)
    disk.write_bytes(jpeg(200))
    r = client.get(listed["snapshot_url"])
    assert r.status_code == 200 and r.content == jpeg(200)
    assert not path.exists() and cluster.fetched == [("node-2", path)]  # served from the copy

    # The head's own node writes under its node folder too: read there, never fetched.
    assert client.get(f"/api/events/{here.id}").json()["snapshot_url"] is None
    mine = state.node_snapshot_path("head", here)
    assert mine is not None
    mine.parent.mkdir(parents=True)
    mine.write_bytes(jpeg(10))
    r = client.get(f"/api/events/{here.id}/snapshot.jpg")
    assert r.status_code == 200 and r.content == jpeg(10)
    assert len(cluster.fetched) == 1

    cluster.down.add("node-2")
    r = client.get(f"/api/events/{remote.id}/snapshot.jpg")
    assert r.status_code == 503
    assert r.json() == {"detail": "snapshot is on node 'node-2', which is down"}
