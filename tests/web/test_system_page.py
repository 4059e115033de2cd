"""The System page of a cluster in a real browser: admins see the nodes (alive, cameras,
capacity, load, processes) and the recent camera moves, refreshed as nodes come and go;
operators see the cameras' nodes but not the cluster. The app is the real `create_app`,
served by uvicorn, over `api.nodes.FolderCluster` (the API's own `ClusterControl` protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from accounts import fast_auth
from api.nodes import SINCE, FolderCluster
from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.cluster import MoveView
from vigil.api.state import ServiceState
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from web.dashboard import PASSWORDS, Dashboard, screenshot

SITE = """\
cameras:
  - {id: cam1, url: "rtsp://127.0.0.1:9/cam1"}
  - {id: cam2, url: "rtsp://127.0.0.1:9/cam2"}
storage: {directory: data}
"""


@pytest.fixture
def cluster_service(tmp_path: Path) -> Iterator[tuple[Dashboard, FolderCluster]]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    auth = fast_auth(store)
    for role in ("admin", "operator"):
        auth.add_user(role, PASSWORDS[role], role)
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE)
    state = ServiceState.from_site(load_config(site_file, model=SiteConfig), store)
    cluster = FolderCluster(tmp_path / "disks", tmp_path / "fetched")
    cluster.moves = [
        MoveView("cam2", "head", "node-2", SINCE.replace(minute=5), "rebalanced: node-2 joined"),
        MoveView("cam2", None, "head", SINCE, "camera added"),
    ]
    app = create_app(state, auth, cluster=cluster)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    try:
        with served(config) as (_, _, port):
            # Only the URL is used: no service process, no log.
            yield Dashboard(f"http://127.0.0.1:{port}", tmp_path, None, None), cluster  # type: ignore[arg-type]
    finally:
        database.close()


def test_admins_see_the_nodes_and_recent_moves(
    browser: Any, cluster_service: tuple[Dashboard, FolderCluster]
) -> None:
    board, cluster = cluster_service
    admin = board.login(browser, "admin")
    page = admin.page
    page.goto("/system")
    page.wait_for_selector("#sys-nodes tr[data-node='node-2']")
    cells = page.eval_on_selector_all(
        "#sys-nodes tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.textContent))",
    )
    assert cells == [
        ["head head", "alive", "127.0.0.1", "1", "4", "25 %", "cam1", "101 102"],
        ["node-2", "alive", "127.0.0.2", "1", "2", "50 %", "cam2", "201"],
    ]
    moves = page.eval_on_selector_all(
        "#sys-moves tbody tr",
        "rows => rows.map(r => [...r.children].slice(1).map(c => c.textContent))",
    )
    assert moves == [
        ["cam2", "head", "node-2", "rebalanced: node-2 joined"],
        ["cam2", "–", "head", "camera added"],
    ]
    nodes = page.eval_on_selector_all(
        "#sys-table tbody tr", "rows => rows.map(r => r.children[2].textContent)"
    )
    assert nodes == ["head", "node-2"]  # the cameras' table has a Node column
    assert "2 of 2 nodes alive" in page.inner_text("#sys-summary")
    screenshot(page, "system-cluster")

    page.goto("/cameras/cam2")  # the camera's own page names its node too
    page.wait_for_selector("figcaption p.meta:has-text('on node node-2')")

    page.goto("/system")
    page.wait_for_selector("#sys-nodes tr[data-node='node-2'] .badge.ok")
    cluster.down.add("node-2")  # the page refreshes every 2 s
    page.wait_for_selector("#sys-nodes tr[data-node='node-2'] .badge.bad", timeout=10_000)
    assert "1 of 2 nodes alive" in page.inner_text("#sys-summary")
    admin.close()


def test_operators_see_no_cluster_section(
    browser: Any, cluster_service: tuple[Dashboard, FolderCluster]
) -> None:
    board, _ = cluster_service
    operator = board.login(browser, "operator")
    page = operator.page
    page.goto("/system")
    page.wait_for_selector("#sys-table tbody tr[data-camera='cam2']")
    assert page.is_hidden("#sys-nodes") and page.is_hidden("#sys-moves")
    assert "nodes alive" not in page.inner_text("#sys-summary")
    operator.close()
