"""Line totals follow a camera from node to node: two node agents (`NodeAgent`, as the head
drives them, without Ray) share the site's database; each saves its workers' `AppStates`
under the camera's lease epoch, and the camera's first worker on a node restores the
latest saved states, also when the camera comes back to a node that ran it before."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from counting_site import counting_site
from vigil.cluster.agent import NodeAgent
from vigil.cluster.leases import LeaseStore
from vigil.config.site import SiteConfig
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database
from vigil.service.messages import CameraStatus


def saved_total(store: AppStateStore, at_least: float) -> float | None:
    """The camera's saved line totals once they are `at_least`."""
    states = store.load("door")
    total = sum(states["crossings"]["state"]["counts"].values()) if states else 0.0
    return total if total >= at_least else None


def wait_for(check: Any, what: str, timeout: float = 90.0) -> Any:
    """What `check()` returns once it is not None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := check()) is not None:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def first_totals(agent: NodeAgent) -> float:
    """The line totals of the first status with its app running that `agent` reports
    (drained before the camera started there)."""

    def status() -> float | None:
        for message in agent.drain(0.5):
            if isinstance(message, CameraStatus) and message.counters.get("crossings"):
                return sum(message.counters["crossings"].values())
        return None

    return wait_for(status, "the camera's line totals on its new node")


@pytest.fixture
def site(tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker processes
    database = f"sqlite:///{tmp_path / 'site.db'}"  # shared by the nodes
    return counting_site(walker_clip.path, tmp_path / "data", database=database)


@pytest.fixture
def agents(site: SiteConfig) -> Iterator[dict[str, NodeAgent]]:
    started: dict[str, NodeAgent] = {}
    try:
        for node in ("node-a", "node-b"):
            started[node] = NodeAgent(node, site, lease_seconds=60)
        yield started
    finally:
        for agent in started.values():
            with contextlib.suppress(Exception):
                agent.shutdown()


def test_line_totals_follow_the_camera_to_another_node_and_back(
    site: SiteConfig, agents: dict[str, NodeAgent]
) -> None:
    with Database(site.storage.database_url()) as database:
        leases, store = LeaseStore(database), AppStateStore(database)

        def move(old: str | None, new: str) -> None:  # as the head moves a camera
            if old is not None:
                agents[old].stop_camera("door", site, removed=True)
            agents[new].drain(0)  # what it said when it ran the camera before
            agents[new].start_camera("door", leases.grant("door", new).epoch, site)

        move(None, "node-a")
        on_a = wait_for(lambda: saved_total(store, 2), "node-a's save")
        move("node-a", "node-b")
        assert first_totals(agents["node-b"]) >= on_a  # not back to zero on the new node
        on_b = wait_for(lambda: saved_total(store, on_a + 2), "node-b's save")
        # Back on node-a: it restores what node-b saved, not what it had itself.
        move("node-b", "node-a")
        assert first_totals(agents["node-a"]) >= on_b
