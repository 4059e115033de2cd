"""Lifting privacy masks: the ``unmask`` permission, a reason, a time limit (expiry), four
eyes, ending a lift, and the audit rows of each; `privacy_view` follows the lifts."""

from __future__ import annotations

from typing import Any

import pytest

from api.privacy_site import PrivacySite

MINUTE = 60.0


def lift(site: PrivacySite, who: str, camera: str, **body: Any) -> Any:
    return site.client(who).post(f"/api/cameras/{camera}/lift", json={"reason": "theft", **body})


def audit_rows(site: PrivacySite, action: str) -> list[Any]:
    return site.auth.audit_log(action=action)[1]


def test_a_lift_unmasks_one_camera_for_its_user_until_it_expires(
    privacy_site: PrivacySite,
) -> None:
    site = privacy_site
    assert site.view("operator", "cam1").mask_objects
    r = lift(site, "operator", "cam1", reason="  bike  theft at\nthe gate ")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active" and body["reason"] == "bike theft at the gate"
    assert body["minutes"] == 10  # the camera's lift_minutes by default
    assert body["expires_at"] == pytest.approx(site.clock.now + 10 * MINUTE)
    view = site.view("operator", "cam1")
    assert not view.mask_objects and view.lift == str(body["id"])
    assert view.reason == "bike theft at the gate"
    # for that user, on that camera only
    assert site.view("operator", "cam2").mask_objects
    assert site.view("lifter", "cam1").mask_objects
    assert site.view("viewer", "cam1").mask_objects
    site.clock.now += 10 * MINUTE - 1
    assert not site.view("operator", "cam1").mask_objects
    site.clock.now += 1  # its time is up
    assert site.view("operator", "cam1").mask_objects
    (listed,) = site.client("operator").get("/api/lifts").json()
    assert listed["status"] == "expired"
    # once over, the masks may be lifted again (with a reason again)
    assert lift(site, "operator", "cam1", minutes=2).json()["status"] == "active"
    (row, *_) = audit_rows(site, "privacy.lift")
    assert row.username == "operator" and row.target == "cam1"
    assert row.detail["reason"] == "theft" and row.detail["minutes"] == 2


def test_lifting_needs_the_permission_a_reason_and_a_time_within_the_policy(
    privacy_site: PrivacySite,
) -> None:
    site = privacy_site
    assert lift(site, "viewer", "cam1").status_code == 403  # no unmask permission
    assert lift(site, "operator", "cam1", reason="").status_code == 422
    assert lift(site, "operator", "cam1", reason="   ").status_code == 422
    assert site.client("operator").post("/api/cameras/cam1/lift", json={}).status_code == 422
    assert lift(site, "operator", "cam1", minutes=11).status_code == 422
    assert lift(site, "operator", "cam1", minutes=0).status_code == 422
    assert lift(site, "operator", "cam3").status_code == 409  # no policy: nothing masked
    assert lift(site, "admin", "cam1").status_code == 409  # admins are not masked on cam1
    assert lift(site, "lifter", "nowhere").status_code == 404
    assert audit_rows(site, "privacy.lift") == []
    assert lift(site, "lifter", "cam1").status_code == 201  # "*": every camera
    assert lift(site, "lifter", "cam1").status_code == 409  # one at a time
    assert all(site.view(who, "cam1").mask_objects for who in ("viewer", "operator"))


def test_four_eyes_a_lift_waits_for_another_admins_approval(privacy_site: PrivacySite) -> None:
    site = privacy_site
    r = lift(site, "admin", "cam2")
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    lift_id = r.json()["id"]
    assert site.view("admin", "cam2").mask_objects
    assert site.client("admin").post(f"/api/lifts/{lift_id}/approve").status_code == 403
    assert site.client("operator").post(f"/api/lifts/{lift_id}/approve").status_code == 403
    pending = site.client("admin2").get("/api/lifts").json()
    assert [(p["id"], p["status"]) for p in pending] == [(lift_id, "pending")]
    site.clock.now += 30 * MINUTE  # the time runs from the approval
    r = site.client("admin2").post(f"/api/lifts/{lift_id}/approve")
    assert r.status_code == 200 and r.json()["approved_by"] == "admin2", r.text
    assert r.json()["expires_at"] == pytest.approx(site.clock.now + 15 * MINUTE)
    assert not site.view("admin", "cam2").mask_objects
    assert site.client("admin2").post(f"/api/lifts/{lift_id}/approve").status_code == 409
    (row,) = audit_rows(site, "privacy.lift.approve")
    assert row.username == "admin2" and row.detail["user"] == "admin"
    assert row.detail["lift"] == lift_id


def test_ending_a_lift_masks_again_and_only_its_user_or_an_admin_may(
    privacy_site: PrivacySite,
) -> None:
    site = privacy_site
    mine = lift(site, "operator", "cam1").json()["id"]
    assert site.client("lifter").delete(f"/api/lifts/{mine}").status_code == 403
    r = site.client("operator").delete(f"/api/lifts/{mine}")
    assert r.status_code == 200 and r.json()["status"] == "ended", r.text
    assert site.view("operator", "cam1").mask_objects
    assert site.client("operator").delete(f"/api/lifts/{mine}").status_code == 409
    theirs = lift(site, "lifter", "cam1").json()["id"]
    r = site.client("admin2").delete(f"/api/lifts/{theirs}")
    assert r.json()["ended_by"] == "admin2"
    assert site.view("lifter", "cam1").mask_objects
    assert site.client("admin").delete("/api/lifts/999").status_code == 404
    ends = audit_rows(site, "privacy.lift.end")
    assert [(e.username, e.detail["user"]) for e in ends] == [
        ("admin2", "lifter"),
        ("operator", "operator"),
    ]
    # a pending four-eyes lift may be refused by an admin the same way
    pending = lift(site, "operator", "cam2").json()["id"]
    assert site.client("admin").delete(f"/api/lifts/{pending}").json()["status"] == "ended"
    assert site.client("admin2").post(f"/api/lifts/{pending}/approve").status_code == 409


def test_taking_the_permission_back_voids_a_running_lift(privacy_site: PrivacySite) -> None:
    site = privacy_site
    assert lift(site, "operator", "cam1").status_code == 201
    assert not site.view("operator", "cam1").mask_objects
    r = site.client("admin").patch("/api/users/operator", json={"unmask": ["cam2"]})
    assert r.status_code == 200 and r.json()["unmask"] == ["cam2"], r.text
    assert site.view("operator", "cam1").mask_objects
    (row, *_) = site.auth.audit_log(action="user.update")[1]
    assert row.target == "operator" and row.detail == {"unmask": ["cam2"]}
    assert site.client("operator").patch("/api/users/operator", json={}).status_code == 403


def test_users_see_their_own_lifts_and_admins_everyones(privacy_site: PrivacySite) -> None:
    site = privacy_site
    lift(site, "operator", "cam1")
    lift(site, "lifter", "cam1")
    assert [x["username"] for x in site.client("lifter").get("/api/lifts").json()] == ["lifter"]
    everyone = site.client("admin").get("/api/lifts?camera=cam1").json()
    assert {x["username"] for x in everyone} == {"lifter", "operator"}
    assert site.client("admin").get("/api/lifts?camera=cam2").json() == []


def test_the_camera_page_learns_what_the_user_is_served_and_may_do(
    privacy_site: PrivacySite,
) -> None:
    site = privacy_site

    def mine(who: str, camera: str = "cam1") -> Any:
        return site.client(who).get(f"/api/cameras/{camera}/privacy").json()

    assert mine("viewer") | {"lift": None} == {
        "camera": "cam1", "masked": True, "may_lift": False, "lift_minutes": 10,
        "four_eyes": False, "lift": None,
    }  # fmt: skip
    assert mine("operator")["may_lift"] and not mine("admin")["masked"]
    assert not mine("lifter", "cam3")["masked"]
    lift(site, "operator", "cam1")
    assert mine("operator")["lift"]["status"] == "active"
    assert mine("lifter")["lift"] is None
    site.clock.now += 10 * MINUTE
    assert mine("operator")["lift"] is None  # expired
    assert lift(site, "operator", "cam2").status_code == 201
    assert mine("operator", "cam2")["lift"]["status"] == "pending"
