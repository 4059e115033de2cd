"""`vigil.cluster.local.LocalRayCluster`: real ``ray start`` nodes on this machine, with Vigil's
node labels; a killed node's processes are gone at once; `stop` leaves no process behind.

The Ray tests run inside a loopback-only network namespace (tests/cluster/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from vigil.cluster.local import FAST_DEATH_DETECTION, LocalRayCluster
from vigil.cluster.nodes import CAMERAS_LABEL, NODE_LABEL, ray_labels, vigil_labels
from vigil.errors import VigilError

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'vigil[cluster]')")
in_namespace = pytest.mark.loopback_namespace
CONFTEST = Path(__file__).with_name("conftest.py")


def running(pids: list[int]) -> list[int]:
    """Those of `pids` still running (a zombie has exited: only its reaping is left)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def processes_mentioning(text: str) -> list[str]:
    """Every process whose command line names `text` (network namespaces share the process
    table: this sees the whole machine)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if text in cmdline:
            found.append(f"{process.pid} {cmdline[:160]}")
    return found


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalRayCluster]:
    local = LocalRayCluster(3, tmp_path / "cluster", cpus_per_node=1, cameras_per_node=4)
    yield local
    ray.shutdown()
    local.stop()


def node_of_task(node: str) -> str:
    """The Vigil node a task asked to run on `node` (Ray label selector) ran on."""

    @ray.remote(num_cpus=0.1, label_selector={NODE_LABEL: node})
    def where() -> str:
        node_id = ray.get_runtime_context().get_node_id()
        [info] = [n for n in ray.nodes() if n["NodeID"] == node_id]
        return str(info["Labels"][NODE_LABEL])

    return str(ray.get(where.remote(), timeout=60))


@in_namespace
def test_nodes_carry_vigil_labels_and_stop_leaves_no_process(cluster: LocalRayCluster) -> None:
    started = time.monotonic()
    address = cluster.start()
    print(f"3-node cluster up in {time.monotonic() - started:.1f} s")
    assert address.startswith("127.0.0.1:")
    cluster.add_node("gpu-1", cpus=1, cameras=2, labels=["gpu", "depot-3"])
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)

    nodes = {n["Labels"][NODE_LABEL]: n for n in ray.nodes() if n["Alive"]}
    assert sorted(nodes) == ["gpu-1", "head", "node-2", "node-3"]
    assert {name: n["Labels"].get(CAMERAS_LABEL) for name, n in nodes.items()} == {
        "head": "4", "node-2": "4", "node-3": "4", "gpu-1": "2",
    }  # fmt: skip
    assert vigil_labels(nodes["gpu-1"]["Labels"]) == {"gpu", "depot-3"}
    assert vigil_labels(nodes["node-2"]["Labels"]) == frozenset()
    assert {n["NodeManagerAddress"] for n in nodes.values()} == {"127.0.0.1"}
    assert node_of_task("node-3") == "node-3"  # work lands where its label asks

    # Only a client with this cluster's own token gets in (not ~/.ray/auth_token, shared).
    wrong_token = cluster.folder / "wrong-token"
    wrong_token.write_text("0" * 64)
    stranger = subprocess.run(
        [sys.executable, "-c", f"import ray; ray.init(address={address!r}); print('joined')"],
        env=dict(os.environ, RAY_AUTH_TOKEN_PATH=str(wrong_token)),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stranger.returncode != 0 and "joined" not in stranger.stdout
    assert "token" in stranger.stderr.lower(), stranger.stderr[-2000:]

    assert cluster.ray_temp_dir is not None
    ray_temp_dir = str(cluster.ray_temp_dir)
    assert len(processes_mentioning(ray_temp_dir)) >= 4  # a raylet per node at least
    pids = {name: cluster.pids(name) for name in cluster.node_names()}
    assert all(len(p) >= 3 for p in pids.values()), pids  # ray start, raylet, agents (+ GCS)
    ray.shutdown()
    started = time.monotonic()
    cluster.stop()
    print(f"stopped in {time.monotonic() - started:.1f} s")
    assert running([pid for node in pids.values() for pid in node]) == []
    assert processes_mentioning(ray_temp_dir) == []
    assert not Path(ray_temp_dir).exists()


@in_namespace
def test_killed_node_is_gone_at_once_and_can_come_back(tmp_path: Path) -> None:
    cluster = LocalRayCluster(3, tmp_path / "cluster", cpus_per_node=1, env=FAST_DEATH_DETECTION)
    try:
        killed_node_is_gone_at_once_and_can_come_back(cluster)
    finally:
        ray.shutdown()
        cluster.stop()


def killed_node_is_gone_at_once_and_can_come_back(cluster: LocalRayCluster) -> None:
    address = cluster.start()
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    doomed, others = cluster.pids("node-2"), cluster.pids("head") + cluster.pids("node-3")

    cluster.kill_node("node-2")
    assert running(doomed) == []
    assert running(others) == others
    assert cluster.node_names() == ["head", "node-3"]
    with pytest.raises(VigilError, match="no running node 'node-2'"):
        cluster.pids("node-2")

    started = time.monotonic()
    while any(n["Alive"] and n["Labels"][NODE_LABEL] == "node-2" for n in ray.nodes()):
        assert time.monotonic() - started < 10, "Ray did not notice node-2 died within 10 s"
        time.sleep(0.2)
    print(f"Ray marked node-2 dead {time.monotonic() - started:.1f} s after the kill")

    cluster.add_node("node-2", cpus=1)  # the machine is back
    assert node_of_task("node-2") == "node-2"

    with pytest.raises(VigilError) as info:  # a node that cannot start: one line, with its log
        cluster.add_node("broken", cpus=-1)
    assert "\n" not in str(info.value) and "Ray node 'broken' exited with code" in str(info.value)
    assert cluster.node_names() == ["head", "node-3", "node-2"]


def test_node_labels_round_trip_and_bad_names_are_one_line() -> None:
    labels = ray_labels("gpu-1", 8, ["gpu", "depot-3"])
    assert labels[NODE_LABEL] == "gpu-1" and labels[CAMERAS_LABEL] == "8"
    assert vigil_labels(labels) == {"gpu", "depot-3"}
    for name, node_labels in [("gpu 1", ()), ("n1", ["gpu,cpu"]), ("n1", ["-gpu"])]:
        with pytest.raises(VigilError) as info:
            ray_labels(name, None, node_labels)
        assert "\n" not in str(info.value) and "is not a valid node name or label" in str(
            info.value
        )
    with pytest.raises(VigilError, match="cameras must be >= 0"):
        ray_labels("n1", -1)


@pytest.mark.usefixtures("outside_loopback_namespace")
def test_marked_tests_report_the_namespace_run(tmp_path: Path) -> None:
    """The mechanism itself: outside a namespace, marked tests pass, fail and skip as they
    did inside one; a test the child could not run fails."""
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_probe.py").write_text(
        "import pytest, socket\n"
        "from vigil.cluster.local import in_loopback_namespace\n"
        "@pytest.mark.loopback_namespace\n"
        "def test_inside():\n"
        "    assert in_loopback_namespace() and [n for _, n in socket.if_nameindex()] == ['lo']\n"
        "@pytest.mark.loopback_namespace\n"
        "def test_fails_inside():\n"
        "    assert 'inside' == 'passed'\n"
        "@pytest.mark.loopback_namespace\n"
        "def test_skips_inside():\n"
        "    pytest.skip('a reason given inside')\n"
        "@pytest.mark.loopback_namespace\n"
        "@pytest.mark.parametrize('crash', [True])\n"
        "def test_kills_the_child(crash):\n"
        "    import os; os._exit(3)\n"
    )
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    print(f"4 marked tests through the namespace in {time.monotonic() - started:.1f} s")
    out = child.stdout
    assert "PASSED test_probe.py::test_inside" in out, out
    assert "FAILED test_probe.py::test_fails_inside - AssertionError" in out, out
    assert "SKIPPED [1] test_probe.py:11: a reason given inside" in out, out
    # The child died inside that test: it cannot have reported it, so it fails, with the why.
    assert "FAILED test_probe.py::test_kills_the_child[True]" in out, out
    assert "no result from the run inside the loopback namespace" in out, out
    assert child.returncode == 1
