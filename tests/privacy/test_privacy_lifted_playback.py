"""A lift unmasks recordings too: the user with a lift in effect gets the segment itself,
and the audit row of that playback names the lift and its reason (the real clip)."""

from __future__ import annotations

import pytest
from playback_helpers import RealSegment
from test_privacy_playback_api import policy

from api.site import Site

pytestmark = pytest.mark.integration


def test_a_lifted_user_gets_the_recording_itself_audited_with_the_lift(
    site: Site, real_segment: RealSegment, recorded: int
) -> None:
    policy(site, "operator, admin")  # the test client is an admin
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    url = f"/api/recordings/segments/{recorded}.mp4"
    assert site.client.get(url).content != real_segment.path.read_bytes()  # masked
    auth.update_user("admin", unmask=["cam1"])
    r = site.client.post("/api/cameras/cam1/lift", json={"reason": "DSAR 7", "minutes": 5})
    assert r.status_code == 201, r.text
    assert site.client.get(url).content == real_segment.path.read_bytes()
    newest, older = auth.audit_log(action="playback.segment")[1][:2]
    assert newest.detail["masked"] is False and newest.detail["reason"] == "DSAR 7"
    assert newest.detail["lift"] == str(r.json()["id"])
    assert older.detail == {**older.detail, "masked": True} and "lift" not in older.detail
