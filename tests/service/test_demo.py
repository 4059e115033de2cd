"""`vigil demo` serves from a site file in its data directory: written on the first start,
edited live through the API (no restart), kept as the user left it on the next start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rtsp.harness import write_clip
from service.test_serve_e2e import (
    admin_client,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)
from vigil.errors import VigilError
from vigil.service.demo import demo_site

# A new zone, in 0..1 of the frame like the demo's own.
NEW_ZONE = {"points": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]}


def test_demo_site_file_is_edited_live_and_kept(tmp_path: Path, tiny_models: Path):
    clip = write_clip(tmp_path / "clip.mp4", 416, 320, 15, 4)
    data = tmp_path / "demo"
    site_file = data / "site.yaml"
    process, stdout, log = start_service(
        ["demo", str(clip), "--port", "0", "--data", "demo"], tmp_path, tiny_models
    )
    try:
        url = printed_url(process, stdout, log)
        assert f"site file:  {site_file}" in stdout.read_text()
        written = yaml.safe_load(site_file.read_text())
        assert written["cameras"][0]["url"] == str(clip)
        assert written["storage"]["directory"] == str(data)
        http = admin_client(data)
        wait_for(
            lambda: http.get(url + "/api/cameras/campus").json()["up"], 30, "campus up", log=log
        )
        worker = wait_for(lambda: log.worker_pids("campus"), 10, "the worker's pid", log=log)
        # An H.264 camera: recorded (an MJPEG one says why not: test_serve_mjpeg.py).
        assert http.get(url + "/api/cameras/campus").json()["status"]["recording"] == "on"

        scene = http.get(url + "/api/cameras/campus/config").json()
        scene["zones"]["bike_corner"] = NEW_ZONE
        response = http.put(url + "/api/cameras/campus/config", json=scene)
        assert response.status_code == 200, response.text
        assert response.json()["applied"]["result"] == "live"

        saved = yaml.safe_load(site_file.read_text())["cameras"][0]["zones"]
        assert saved["bike_corner"] == NEW_ZONE
        assert "walkway" in saved  # the rest of the scene is kept
        assert "It is yours now" in site_file.read_text()  # so are the file's comments
        assert log.worker_pids("campus") == worker  # applied without restarting the worker
    finally:  # (a clean stop on Ctrl-C: test_serve_e2e.py)
        stop_process(process)

    # Started again (from another directory, without VIDEO): the edited file is served.
    process, stdout, log = start_service(
        ["demo", "--port", "0", "--data", str(data)], tmp_path / "demo", tiny_models, "again"
    )
    try:
        url = printed_url(process, stdout, log)
        zones = http.get(url + "/api/cameras/campus/config").json()["zones"]
        assert zones["bike_corner"]["points"] == NEW_ZONE["points"]
    finally:
        stop_process(process)


def test_demo_site_without_video_is_one_error(tmp_path: Path):
    with pytest.raises(VigilError, match="demo video not found: .*missing.avi"):
        demo_site(tmp_path / "missing.avi", tmp_path / "data")
    assert not (tmp_path / "data" / "site.yaml").exists()


def test_demo_site_port_overrides_the_file_for_one_run(tmp_path: Path):
    clip = write_clip(tmp_path / "clip.mp4", 64, 48, 15, 1)
    assert demo_site(clip, tmp_path / "data", 9000).server.port == 9000
    assert demo_site(None, tmp_path / "data").server.port == 9000  # written on the first start
    assert demo_site(None, tmp_path / "data", 0).server.port == 0
    assert yaml.safe_load((tmp_path / "data" / "site.yaml").read_text())["server"]["port"] == 9000


def test_demo_masks_people_for_viewers(tmp_path: Path):
    """`vigil demo` serves viewers people pixelated (every pixel route asks `privacy_view`),
    operators and admins unmasked, and states its purpose and limits on the camera."""
    from accounts import bearer, fast_auth, user_token
    from api.site import TestClient
    from vigil.api.app import create_app
    from vigil.api.privacy import privacy_view
    from vigil.api.state import ServiceState
    from vigil.auth.principal import Principal
    from vigil.db.database import Database
    from vigil.events import EventStore

    site = demo_site(write_clip(tmp_path / "clip.mp4", 64, 48, 15, 1), tmp_path / "data")
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState.from_site(site, store)
        masked = {
            role: privacy_view(state, Principal(role, role), "campus").mask_objects
            for role in ("viewer", "operator", "admin")
        }
        assert masked == {"viewer": True, "operator": False, "admin": False}
        assert state.site is not None
        assert state.site.camera("campus").privacy.mode == "pixelate"
        app = create_app(state, fast_auth(store))
        viewer = bearer(user_token(app.state.auth, "vera", "viewer"))
        with TestClient(app, headers=viewer) as client:
            privacy = client.get("/api/cameras/campus").json()["privacy"]
    assert (privacy["masked_classes"], privacy["masked_for"]) == (["person"], ["viewer"])
    assert privacy["purpose"].startswith("Demo: counting people")
    assert privacy["kept_days"] == {"recordings": 1, "snapshots": 7, "boxes": 1, "events": 30}
