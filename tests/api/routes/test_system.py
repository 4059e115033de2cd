"""``GET /api/health``."""

from __future__ import annotations

from api.site import Site, TestClient, status

# --------------------------------------------------------------------------- health, cameras


def test_health_reflects_camera_states(site: Site) -> None:
    def states() -> dict[str, tuple[str, bool]]:
        return {c["id"]: (c["state"], c["up"]) for c in site.client.get("/api/cameras").json()}

    body = site.client.get("/api/health").json()
    assert body["ok"] is False and body["status"] == "degraded"
    assert set(body) == {"ok", "status", "time", "uptime_s", "disk_pressure"}  # nothing more
    assert states() == {
        "cam1": ("unknown", False),
        "cam2": ("unknown", False),
        "lab": ("unknown", False),
    }
    now = site.clock.now
    site.state.apply(status("cam1", now))
    site.state.apply(status("cam2", now))
    anonymous = TestClient(site.client.app)  # type: ignore[arg-type]
    body = anonymous.get("/api/health").json()
    assert body["ok"] is True and body["status"] == "ok"  # "lab" is disabled
    assert [up for _, up in states().values()] == [True, True, False]

    site.state.apply(status("cam2", now, "reconnecting"))
    assert site.client.get("/api/health").json()["ok"] is False
    site.state.apply(status("cam2", now))
    site.clock.now += 60  # workers went quiet: stale statuses are not "up"
    body = site.client.get("/api/health").json()
    assert body["ok"] is False
    assert states()["cam1"] == ("online", False)
