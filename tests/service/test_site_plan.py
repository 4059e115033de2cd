"""`plan_site_change`: which cameras' workers a change of the site file starts, stops,
restarts or reconfigures in place, and which shared sections wait for the next start."""

from __future__ import annotations

from typing import Any

from vigil.config.site import SiteConfig
from vigil.service.site_plan import plan_site_change


def camera(camera_id: str, **overrides: Any) -> dict[str, Any]:
    return {"id": camera_id, "url": f"/clips/{camera_id}.mp4", **overrides}


def site(*cameras: dict[str, Any], **sections: Any) -> SiteConfig:
    return SiteConfig.model_validate({"cameras": list(cameras), **sections})


ZONE = {"points": [[0, 0], [100, 0], [100, 100]]}


def test_the_same_site_changes_nothing():
    old = site(camera("a"), camera("b"))
    plan = plan_site_change(old, site(camera("a"), camera("b")))
    assert not plan.changes_cameras and plan.held == ()
    assert plan.site == old


def test_a_scene_change_reconfigures_and_anything_else_restarts():
    old = site(camera("a"), camera("b"), camera("c"), camera("d"))
    new = site(
        camera("a", zones={"door": ZONE}),  # scene: zones
        camera("b", apps=[{"type": "counting"}]),  # scene: apps
        camera("c", url="rtsp://cam/c"),  # source
        camera("d", record={"mode": "off"}),  # recording
    )
    plan = plan_site_change(old, new)
    assert plan.reconfigure == ("a", "b")
    assert plan.restart == ("c", "d")
    assert plan.start == plan.stop == ()
    assert plan.site.camera("a").zones.keys() == {"door"}


def test_added_enabled_removed_and_disabled_cameras_start_and_stop():
    old = site(camera("a"), camera("b"), camera("off", enabled=False))
    new = site(camera("a", enabled=False), camera("off"), camera("new"))
    plan = plan_site_change(old, new)
    assert plan.start == ("off", "new")
    assert plan.stop == ("a", "b")
    assert plan.restart == plan.reconfigure == ()


def test_a_disabled_camera_that_changes_stays_stopped():
    old = site(camera("a"), camera("off", enabled=False))
    plan = plan_site_change(old, site(camera("a"), camera("off", enabled=False, url="x.mp4")))
    assert not plan.changes_cameras


def test_shared_sections_are_held_for_the_next_start_and_cameras_still_change():
    old = site(camera("a"), detector={"confidence": 0.3})
    new = site(
        camera("a", zones={"door": ZONE}), detector={"confidence": 0.6}, mqtt={"enabled": True}
    )
    plan = plan_site_change(old, new)
    assert plan.held == ("detector", "mqtt")
    assert plan.site.detector == old.detector and plan.site.mqtt == old.mqtt
    assert plan.reconfigure == ("a",)
    assert plan.site.camera("a") == new.camera("a")
