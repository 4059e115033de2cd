"""``GET /api/cameras`` and ``GET /api/cameras/{id}``: state, status, app instances."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from accounts import bearer, fast_auth, user_token
from api.site import Site, TestClient, jpeg, status
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import (
    AppStatus,
    LiveFrame,
)


def test_cameras_list_without_credentials(site: Site) -> None:
    cameras = site.client.get("/api/cameras").json()
    assert [c["id"] for c in cameras] == ["cam1", "cam2", "lab"]
    assert cameras[0]["name"] == "Front door"
    assert cameras[0]["url"] == "rtsp://10.0.0.5:554/stream1"
    assert cameras[1]["url"] == "http://cam2.local/video.mjpg?res=hd"
    assert cameras[1]["name"] == "cam2"
    assert cameras[2]["enabled"] is False
    assert cameras[0]["live_url"] == "/api/cameras/cam1/live.mjpeg"
    assert cameras[0]["latest_url"] == "/api/cameras/cam1/latest.jpg"
    text = site.client.get("/api/cameras").text
    assert "secret" not in text and "pwd" not in text


def test_camera_detail_status(site: Site) -> None:
    body = site.client.get("/api/cameras/cam1").json()
    assert body["state"] == "unknown" and body["status"] is None
    assert body["live_frame_at"] is None
    site.state.apply(
        status(
            "cam1",
            site.clock.now - 1.5,
            frames_in=300,
            frames_processed=100,
            frames_dropped=2,
            reconnects=1,
            fps_in=15.0,
            fps_processed=5.0,
            detector_latency_ms=12.5,
            queue_depth=3,
            recording_lag_s=4.0,
            counters={"door": {"person in": 3.0, "person out": 1.0}},
        )
    )
    site.state.apply(LiveFrame("cam1", site.clock.now - 1.0, jpeg()))
    body = site.client.get("/api/cameras/cam1").json()
    s = body["status"]
    assert body["state"] == "online" and body["up"] is True
    assert s["fps_in"] == 15.0 and s["fps_processed"] == 5.0
    assert (s["frames_in"], s["frames_processed"], s["frames_dropped"]) == (300, 100, 2)
    assert s["reconnects"] == 1 and s["queue_depth"] == 3
    assert s["detector_latency_ms"] == 12.5 and s["recording_lag_s"] == 4.0
    assert s["counters"] == {"door": {"person in": 3.0, "person out": 1.0}}
    assert s["age_s"] == pytest.approx(1.5)
    assert body["totals"]["frames_in"] == 300
    assert body["live_frame_at"] == site.clock.now - 1.0


def test_camera_detail_per_app_state(site: Site) -> None:
    """Each app instance's state, restarts, last error, counters, the boundary's error and
    rejection counts, backoff and memory-cgroup isolation, for a viewer too."""
    viewer = bearer(user_token(site.client.app.state.auth, "watcher", "viewer"))  # type: ignore[attr-defined]
    assert site.client.get("/api/cameras/cam1", headers=viewer).json()["apps"] == []
    site.state.apply(
        status(
            "cam1",
            site.clock.now,
            apps=[
                AppStatus("line_count", "door", True, "running", counters={"person in": 2.0}),
                AppStatus("webhook", "notify", True, "restarting", "exit code 1", restarts=3),
                AppStatus("loitering", "porch", True, "failing", "process() raised KeyError"),
                AppStatus("occupancy", "hall", False, "stopped"),
            ],
        )
    )
    webhook, loitering = site.state.status("cam1").apps[1:3]  # type: ignore[union-attr]
    webhook.sandboxed, webhook.memory_cgroup, webhook.rejected = True, False, 2
    loitering.errors, loitering.backoff_s = 4, 7.96
    apps = site.client.get("/api/cameras/cam1", headers=viewer).json()["apps"]
    healthy = {
        "errors": 0,
        "rejected": 0,
        "backoff_s": 0.0,
        "sandboxed": None,
        "memory_cgroup": None,
    }
    assert apps == [
        {
            "type": "line_count",
            "name": "door",
            "enabled": True,
            "state": "running",
            "restarts": 0,
            "last_error": None,
            "counters": {"person in": 2.0},
            **healthy,
        },
        {
            "type": "webhook",
            "name": "notify",
            "enabled": True,
            "state": "restarting",
            "restarts": 3,
            "last_error": "exit code 1",
            "counters": {},
            **healthy,
            "rejected": 2,
            "sandboxed": True,
            "memory_cgroup": False,
        },
        {
            "type": "loitering",
            "name": "porch",
            "enabled": True,
            "state": "failing",
            "restarts": 0,
            "last_error": "process() raised KeyError",
            "counters": {},
            **healthy,
            "errors": 4,
            "backoff_s": 8.0,
        },
        {
            "type": "occupancy",
            "name": "hall",
            "enabled": False,
            "state": "stopped",
            "restarts": 0,
            "last_error": None,
            "counters": {},
            **healthy,
        },
    ]
    assert "settings" not in apps[0]  # settings are the admin's (GET .../config)
    assert site.client.get("/api/cameras/cam2", headers=viewer).json()["apps"] == []


def test_camera_detail_apps_follow_the_site_config(tmp_path: Path) -> None:
    """With a site, the configured instances in config order; "unknown" until reported."""
    from vigil.config.site import SiteConfig

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "cam1",
                    "url": "rtsp://cam1/1",
                    "lines": {"gate": {"start": [0, 10], "end": [60, 10]}},
                    "apps": [
                        {"type": "line_count", "name": "door", "settings": {"line": "gate"}},
                        {"type": "occupancy", "enabled": False},
                    ],
                }
            ],
            "storage": {"directory": str(tmp_path / "site")},
        }
    )
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState.from_site(site, store)
        app = create_app(state, fast_auth(store))
        with TestClient(app, headers=bearer(user_token(app.state.auth))) as client:
            apps = client.get("/api/cameras/cam1").json()["apps"]
            assert [(a["type"], a["name"], a["enabled"], a["state"]) for a in apps] == [
                ("line_count", "door", True, "unknown"),
                ("occupancy", "occupancy", False, "unknown"),
            ]
            state.apply(
                status(
                    "cam1",
                    time.time(),
                    apps=[AppStatus("line_count", "door", True, "running", counters={"n": 1.0})],
                )
            )
            apps = client.get("/api/cameras/cam1").json()["apps"]
            assert (apps[0]["state"], apps[0]["counters"]) == ("running", {"n": 1.0})
            assert apps[1]["state"] == "unknown"


def test_camera_state_not_known_to_the_api(site: Site) -> None:
    """Workers pass on their source's state ("ended" for a finished file): shown as is."""
    site.state.apply(status("lab", site.clock.now, "ended"))
    assert site.client.get("/api/cameras/lab").json()["state"] == "ended"
    assert site.client.get("/api/cameras").json()[2]["state"] == "ended"


def test_cameras_show_purpose_masks_and_retention(tmp_path: Path) -> None:
    """Every user who may see a camera reads what it records for, what is masked for whom
    and the longest each kind of its data is kept (its maximums over the record settings
    and the site's event retention)."""
    from vigil.config.site import SiteConfig

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "door",
                    "url": "rtsp://door/1",
                    "record": {"retain_days": 14, "event_retain_days": 30},
                    "privacy": {
                        "mask": ["person"],
                        "for": ["viewer", "operator"],
                        "part": "upper",
                        "static": [{"points": [[0, 0], [0.2, 0], [0.2, 0.3]]}],
                        "purpose": "Safety of the entrance; incidents only",
                        "retention": {"recordings_days": 3, "snapshots_days": 1},
                    },
                },
                {"id": "yard", "url": "rtsp://yard/1", "record": {"mode": "events"}},
            ],
            "storage": {"directory": str(tmp_path / "site"), "events_retain_days": 90},
        }
    )
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState.from_site(site, store)
        app = create_app(state, fast_auth(store))
        viewer = bearer(user_token(app.state.auth, "vera", "viewer"))
        with TestClient(app, headers=viewer) as client:
            door = client.get("/api/cameras/door").json()["privacy"]
            assert door == {
                "purpose": "Safety of the entrance; incidents only",
                "masked_classes": ["person"],
                "masked_for": ["viewer", "operator"],
                "mode": "pixelate",
                "part": "upper",
                "static_masks": 1,
                "limits": {
                    "recordings_days": 3.0,
                    "snapshots_days": 1.0,
                    "boxes_days": None,
                    "events_days": None,
                },
                "kept_days": {"recordings": 3.0, "snapshots": 1.0, "boxes": 3.0, "events": 90.0},
            }
            yard = client.get("/api/cameras").json()[1]["privacy"]
            # No policy: nothing masked; footage events reference stays event_retain_days.
            assert (yard["purpose"], yard["masked_classes"], yard["static_masks"]) == ("", [], 0)
            assert yard["kept_days"] == {
                "recordings": 30.0,
                "snapshots": 90.0,
                "boxes": 30.0,
                "events": 90.0,
            }
