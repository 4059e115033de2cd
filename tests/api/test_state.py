"""`ServiceState`, the API's read model of the site: what it keeps of worker messages, camera
info without credentials, names safe for files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.site import Site, status
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.hub import Hub
from vigil.service.messages import (
    LiveFrame,
)
from vigil.sources.urls import redact_url

# --------------------------------------------------------------------------- state


def test_redact_url_strips_credentials() -> None:
    assert redact_url("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://10.0.0.5:554/s1"
    assert redact_url("rtsp://admin@cam/s1") == "rtsp://cam/s1"
    # a password with unescaped '@' or '/' must not leak either
    assert redact_url("rtsp://admin:p@ss/w@cam.local/live") == "rtsp://cam.local/live"
    cleaned = redact_url("http://cam/snap.cgi?user=admin&password=x&channel=2&pwd=y")
    assert cleaned == "http://cam/snap.cgi?channel=2"
    assert redact_url("/videos/demo.mp4") == "/videos/demo.mp4"
    assert redact_url("rtsp://cam.local/live?channel=1") == "rtsp://cam.local/live?channel=1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # A password holding an unescaped '?' or '#' (which end the host part of a URL).
        ("rtsp://admin:pa?ss@10.0.0.5:554/s1", "rtsp://10.0.0.5:554/s1"),
        ("rtsp://admin:pa#ss@cam.local/live?ch=1", "rtsp://cam.local/live?ch=1"),
        ("rtsp://admin:p?a#s/s@w@[fd00::5]:554/s1", "rtsp://[fd00::5]:554/s1"),
        # Credentials under vendors' own parameter names, and ';'-separated ones.
        ("http://cam/videostream.cgi?loginuse=admin&loginpas=s3cret&res=0",
         "http://cam/videostream.cgi?res=0"),
        ("http://cam/snap.cgi?channel=1;password=s3cret", "http://cam/snap.cgi?channel=1"),
        ("rtsp://cam/live;user=admin;password=s3cret;ch=1", "rtsp://cam/live;ch=1"),
        ("http://cam/video.cgi?usr=admin&Pwd=s3cret&fps=5", "http://cam/video.cgi?fps=5"),
        ("http://cam/v.cgi?API_KEY=s3cret&access%5Ftoken=s3cret", "http://cam/v.cgi"),
    ],
)  # fmt: skip
def test_redact_url_strips_credentials_however_written(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url) and "pa" not in redact_url(url).split("//")[1][:3]


def test_names_entering_the_config_api_are_printable(site: Site) -> None:
    zone = {"points": [[0, 0], [1, 0], [1, 1]]}
    for name in ("\ud800", "bell\u0007", "z" * 65):
        body = json.dumps({"zones": {name: zone}})  # "\ud800" escaped, as a client sends it
        r = site.client.put("/api/cameras/cam1/config", content=body)
        assert r.status_code == 422, (name, r.text)
    app = {"type": "occupancy", "settings": {}}
    r = site.client.put("/api/cameras/cam1/apps/tab%09name", json=app)
    assert r.status_code == 422


def test_state_apply_keeps_latest_status_and_frame(tmp_path: Path) -> None:
    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("a", "rtsp://a/1")], store, storage=tmp_path)
        assert state.snapshots_dir == tmp_path / "snapshots"
        assert state.recordings_dir == tmp_path / "recordings"
        assert state.exports_dir == tmp_path / "exports"
        state.apply(status("a", time.time(), frames_in=5))
        state.apply(status("a", time.time(), frames_in=9))
        state.apply(status("ghost", time.time()))  # not configured: ignored
        state.apply(LiveFrame("a", 1.0, b"x"))
        state.apply(LiveFrame("a", 2.0, b"y"))
        assert state.status("a").frames_in == 9  # type: ignore[union-attr]
        assert state.status("ghost") is None
        assert state.live_frame("a") == LiveFrame("a", 2.0, b"y")
        assert state.is_up("a")
        with pytest.raises(ValueError, match="duplicate"):
            ServiceState([CameraInfo.create("a", "x"), CameraInfo.create("a", "y")], store)


def test_state_from_site_config(tmp_path: Path) -> None:
    try:
        from vigil.config.site import SiteConfig
    except ImportError as err:  # the site configuration is still being written
        pytest.skip(f"vigil.config.site: {err}")

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "gate", "url": "rtsp://u:p@gate/1", "record": {"pre_roll": 3}},
                {"id": "yard", "url": "rtsp://yard/1", "enabled": False},
            ],
            "storage": {"directory": str(tmp_path / "site")},
        }
    )
    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState.from_site(site, store)
    assert [c.id for c in state.cameras.values()] == ["gate", "yard"]
    assert state.cameras["gate"].url == "rtsp://gate/1"
    assert state.cameras["gate"].pre_roll == 3.0
    assert not state.cameras["yard"].enabled
    assert state.recordings_dir == tmp_path / "site" / "recordings"


def test_hub_is_shared(tmp_path: Path) -> None:
    hub = Hub()
    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("a", "x")], store, hub=hub, storage=tmp_path)
    assert state.hub is hub
