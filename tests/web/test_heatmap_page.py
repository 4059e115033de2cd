"""The Analytics page's heat map and dwell in a real browser: a viewer picks a camera, the
heat map of its stored tracks lies over its current picture, each zone's dwell is a bar
chart, and the page fits a laptop and a phone. The app is the real `create_app` served by
uvicorn over a real database of track summaries and the sample clip's first frame."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import uvicorn

from accounts import fast_auth
from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.service.messages import RawFrame
from web.dashboard import PASSWORDS, Dashboard, screenshots_on_screens

SITE = """\
cameras:
  - id: cam1
    url: "rtsp://127.0.0.1:9/cam1"
    zones:
      door: {points: [[0, 0.3], [0.3, 0.3], [0.3, 0.6], [0, 0.6]]}
      bench: {points: [[0.6, 0.5], [1, 0.5], [1, 0.9], [0.6, 0.9]]}
  - {id: cam2, url: "rtsp://127.0.0.1:9/cam2"}
storage: {directory: data}
"""
TRACKS = 40


def walks(now: float) -> list[TrackSummary]:
    """People walking down the sample clip's walkway in the last hour, each a while at the
    door and some on the bench."""
    out = []
    for i in range(TRACKS):
        f = np.linspace(0, 1, 20)
        path = np.column_stack([f * 30, 0.05 + 0.9 * f, 0.4 + 0.3 * f + 0.01 * (i % 5)])
        zones = {"door": 4.0 + i} | ({"bench": 30.0 + 10 * i} if i % 4 == 0 else {})
        start = now - 3000 + 60 * i
        out.append(
            TrackSummary("cam1", i, "person", start, start + 30, path.astype(np.float32), zones)
        )
    return out


@pytest.fixture
def service(tmp_path: Path, shared_clip: Path) -> Iterator[Dashboard]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    auth = fast_auth(store)
    auth.add_user("viewer", PASSWORDS["viewer"], "viewer")
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE)
    state = ServiceState.from_site(load_config(site_file, model=SiteConfig), store)
    TrackStore(database).add(walks(time.time()))
    ok, first = cv2.VideoCapture(str(shared_clip)).read()
    assert ok
    state.apply(RawFrame("cam1", time.time(), 768, 576, cv2.imencode(".jpg", first)[1].tobytes()))
    app = create_app(state, auth)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    try:
        with served(config) as (_, _, port):
            yield Dashboard(f"http://127.0.0.1:{port}", tmp_path, None, None)  # type: ignore[arg-type]
    finally:
        database.close()


def test_a_viewer_sees_the_heat_map_over_the_picture_and_dwell_per_zone(
    browser: Any, service: Dashboard
) -> None:
    viewer = service.login(browser, "viewer")
    page = viewer.page
    page.goto("/analytics?camera=cam1")
    page.wait_for_selector("#dwell-charts figure[data-zone='bench'] canvas")
    page.wait_for_function(
        "() => ['heat-frame', 'heat-overlay'].every(id => document.getElementById(id).naturalWidth === 768)"
    )
    peak = page.request.get("/api/cameras/cam1/heatmap.json").json()["peak"]
    assert page.inner_text("#heat-legend") == f"{TRACKS} tracks · busiest cell {round(peak)} s"
    captions = page.eval_on_selector_all(
        "#dwell-charts figcaption", "cs => cs.map(c => c.textContent)"
    )
    assert captions == [
        "bench · 10 tracks · median 3 min 30 s · p90 5 min 54 s · max 6 min 30 s",  # 30 s to 390 s
        "door · 40 tracks · median 24 s · p90 39 s · max 43 s",  # 4 s to 43 s
    ]
    # the overlay covers the picture exactly
    frame, overlay = (page.eval_on_selector(f"#{i}", "e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }") for i in ("heat-frame", "heat-overlay"))  # fmt: skip
    assert overlay == frame
    assert screenshots_on_screens(page, "analytics-heatmap") == {"laptop": 0, "phone": 0}
    # another class: nobody
    page.select_option("#heat-class", "car")
    page.click("#heat-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('dwell-charts').textContent === 'No zone visits in this range.'"
    )
    assert page.inner_text("#heat-legend") == "No tracks in this range."
    viewer.close()
