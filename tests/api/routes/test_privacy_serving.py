"""The picture routes serve what `privacy_view` says: a masked role never the unmasked
picture; ``?unmasked=true`` only under a lift in effect (and not after it ends), audited;
cameras without a policy as before; the event JSON carries the object's ``box``."""

from __future__ import annotations

from typing import Any

import pytest

from api.privacy_site import PrivacySite
from api.site import PartReader, jpeg
from vigil.api.live import LiveViewers
from vigil.api.routes import live as live_routes
from vigil.events import Event
from vigil.service.messages import LiveFrame, RawFrame

#: The unmasked record: a real JPEG with a marker in a comment segment; and the worker's
#: masked picture of the same frame.
UNMASKED = jpeg(200)[:2] + b"\xff\xfe\x00\x12UNMASKED-PICTURE" + jpeg(200)[2:]
MASKED = jpeg(10)
MINUTE = 60.0


@pytest.fixture
def served(privacy_site: PrivacySite) -> tuple[PrivacySite, Event]:
    site = privacy_site
    # as the worker sends them: masked where a policy masks objects, with the unmasked
    # picture while someone entitled to it watches
    for camera in ("cam1", "cam2"):
        site.state.apply(LiveFrame(camera, site.clock.now, MASKED, UNMASKED))
        site.state.apply(RawFrame(camera, site.clock.now, 32, 24, MASKED))
    site.state.apply(LiveFrame("cam3", site.clock.now, UNMASKED))
    site.state.apply(RawFrame("cam3", site.clock.now, 32, 24, UNMASKED))
    event = Event(
        source="cam1",
        app="door",
        type="line_crossing",
        start_time=site.clock.now,
        frame_index=3,
        attributes={"box": [1, 2.5, 30, 20]},
    )
    site.state.events.add([event])
    path = site.state.snapshots_dir / "cam1" / f"{event.id}.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(UNMASKED)
    return site, event


def urls(event: Event) -> list[str]:
    return [
        "/api/cameras/cam1/latest.jpg",
        "/api/cameras/cam1/live.mjpeg?frames=1",
        f"/api/events/{event.id}/snapshot.jpg",
    ]


def views(site: PrivacySite) -> list[tuple[str | None, dict]]:
    return [(r.username, r.detail) for r in site.auth.audit_log(action="privacy.view")[1]]


def test_a_masked_role_never_gets_the_unmasked_picture(
    served: tuple[PrivacySite, Event],
) -> None:
    site, event = served
    for who in ("viewer", "operator", "lifter"):
        for url in [*urls(event), "/api/cameras/cam1/frame.jpg"]:
            r = site.client(who).get(url)
            assert r.status_code == 200 and b"\xff\xd8" in r.content, (who, url)
            assert b"UNMASKED-PICTURE" not in r.content, (who, url)
        # asking for it unmasked without a lift is refused, with what to do
        for url in urls(event):
            r = site.client(who).get(url + ("&" if "?" in url else "?") + "unmasked=true")
            assert r.status_code == 403 and "/lift" in r.json()["detail"], (who, url)
    audited = views(site)
    assert {(who, d["what"]) for who, d in audited} == {
        (who, what) for who in ("viewer", "operator", "lifter") for what in ("live", "snapshot")
    }
    assert all(d["masked"] is True and "lift" not in d for _, d in audited)


def test_unmasked_under_a_lift_when_asked_audited_until_it_ends(
    served: tuple[PrivacySite, Event],
) -> None:
    site, event = served
    client = site.client("operator")
    r = client.post("/api/cameras/cam1/lift", json={"reason": "incident 42", "minutes": 5})
    lift_id = str(r.json()["id"])
    for url in urls(event):
        asked = url + ("&" if "?" in url else "?") + "unmasked=true"
        r = client.get(asked)
        assert r.status_code == 200 and b"UNMASKED-PICTURE" in r.content, (url, r.text)
        assert b"UNMASKED-PICTURE" not in client.get(url).content  # not asked: masked
    audited = [(who, d) for who, d in views(site) if d["masked"] is False]
    assert {d["what"] for _, d in audited} == {"live", "snapshot"}
    assert all(
        who == "operator" and d["masked"] is False and d["lift"] == lift_id
        and d["reason"] == "incident 42" and d["camera"] == "cam1"
        for who, d in audited
    )  # fmt: skip
    # a polled picture is audited once a minute, not at every poll
    before = len(views(site))
    client.get("/api/cameras/cam1/latest.jpg?unmasked=true")
    assert len(views(site)) == before
    site.clock.now += 5 * MINUTE  # the lift is over
    for url in urls(event):
        r = client.get(url + ("&" if "?" in url else "?") + "unmasked=true")
        assert r.status_code == 403 and b"UNMASKED-PICTURE" not in r.content


def test_an_unmasked_stream_ends_with_its_lift(
    served: tuple[PrivacySite, Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    site, _ = served
    monkeypatch.setattr(live_routes, "STREAM_RECHECK_S", 0.0)
    client = site.client("operator")
    lift_id = client.post("/api/cameras/cam1/lift", json={"reason": "x"}).json()["id"]
    url = "/api/cameras/cam1/live.mjpeg?fps=20&unmasked=true"
    with client.stream("GET", url) as r:
        assert r.status_code == 200
        reader = PartReader(r.iter_bytes(), live_routes.MJPEG_BOUNDARY)
        ((_, first),) = reader.read(1)
        assert b"UNMASKED-PICTURE" in first
        assert site.client("admin").delete(f"/api/lifts/{lift_id}").status_code == 200
        rest = reader.read(1000)  # ends: the stream does not go on masked or unmasked
        assert len(rest) < 1000


def test_roles_the_policy_does_not_mask_and_cameras_without_one_are_served_as_before(
    served: tuple[PrivacySite, Event],
) -> None:
    site, event = served
    admin = site.client("admin")  # cam1 masks viewers and operators only
    for url in urls(event):
        r = admin.get(url)
        assert r.status_code == 200 and b"UNMASKED-PICTURE" in r.content, url
    # the zone editor's picture is masked for everyone (the worker sends it so)
    assert b"UNMASKED-PICTURE" not in admin.get("/api/cameras/cam1/frame.jpg").content
    viewer = site.client("viewer")
    for url in ("/api/cameras/cam3/latest.jpg", "/api/cameras/cam3/frame.jpg"):
        assert b"UNMASKED-PICTURE" in viewer.get(url).content
    assert {d["camera"] for _, d in views(site)} == {"cam1"}  # cam3 has no policy
    assert all(d["masked"] is False and "lift" not in d for _, d in views(site))


def test_the_grid_never_sends_a_masked_role_the_unmasked_picture(
    served: tuple[PrivacySite, Event],
) -> None:
    site, _ = served
    with site.client("lifter").websocket_connect("/api/live?fps=20") as ws:
        sent = dict(ws.receive_bytes().split(b"\n", 1) for _ in range(3))
    assert sent == {b"cam1": MASKED, b"cam2": MASKED, b"cam3": UNMASKED}


def test_the_event_json_has_the_objects_box(served: tuple[PrivacySite, Event]) -> None:
    site, event = served
    body = site.client("viewer").get(f"/api/events/{event.id}").json()
    assert body["box"] == [1.0, 2.5, 30.0, 20.0]


def test_the_worker_is_asked_for_the_unmasked_picture_only_for_an_entitled_viewer(
    served: tuple[PrivacySite, Event],
) -> None:
    site, _ = served
    told: list[tuple[str, bool, bool]] = []
    app: Any = site.app
    app.state.live_viewers = LiveViewers(lambda *demand: told.append(demand), lease_s=60)
    site.client("viewer").get("/api/cameras/cam1/latest.jpg")
    assert told == [("cam1", True, False)]
    site.client("operator").post("/api/cameras/cam1/lift", json={"reason": "incident"})
    site.client("operator").get("/api/cameras/cam1/latest.jpg?unmasked=true")
    assert told[-1] == ("cam1", True, True)
    site.client("viewer").get("/api/cameras/cam3/latest.jpg")  # no policy: nothing to unmask
    assert told[-1] == ("cam3", True, False)
