"""``/api/review``: items newest first with filters and paging, the facets, the per-user
reviewed mark, camera restrictions; and ``/api/events/{id}/crop.jpg``."""

from __future__ import annotations

import cv2
import numpy as np

from accounts import bearer, user_token
from api.site import T0, Site, event
from vigil.events import Event


def add(site: Site) -> list[Event]:
    evs = [
        event(T0 + 10, "cam1", "door", "line_crossing", "person", line="gate"),
        event(T0 + 14, "cam1", "yard", "intrusion", "person", zone="lawn", end_time=T0 + 30),
        event(T0 + 200, "cam1", "door", "line_crossing", "car", line="gate"),
        event(T0 + 100, "cam2", "door", "line_crossing", "bicycle", line="gate"),
        event(T0 + 110, "cam2", "room", "occupancy", None, attributes={"count": 2}),
    ]  # fmt: skip
    site.store.add(evs)
    return evs


def test_items_newest_first_with_what_they_hold(site: Site) -> None:
    evs = add(site)
    body = site.client.get("/api/review").json()
    assert body["total"] == 3 and body["limit"] == 50 and body["offset"] == 0
    newest, middle, oldest = body["items"]
    assert (newest["camera"], newest["start"], newest["severity"]) == (
        "cam1",
        T0 + 200,
        "detection",
    )
    assert newest["events"] == [evs[2].id] and newest["event_count"] == 1
    assert newest["clip_url"] == f"/api/events/{evs[2].id}/clip.mp4"
    assert middle["camera"] == "cam2" and middle["classes"] == ["bicycle"]
    assert oldest["severity"] == "alert" and (oldest["start"], oldest["end"]) == (T0 + 10, T0 + 30)
    assert oldest["apps"] == ["door", "yard"] and oldest["zones"] == ["gate", "lawn"]
    assert oldest["types"] == ["intrusion", "line_crossing"]
    assert oldest["events"] == [evs[0].id, evs[1].id] and oldest["reviewed"] is False
    # several events play as their span with the camera's pre- and post-roll
    assert oldest["clip_url"] == (
        f"/api/recordings/export?camera=cam1&start={T0 + 5:.3f}&end={T0 + 35:.3f}"
    )
    # raw events stay: every one, the occupancy report too
    assert site.client.get("/api/events").json()["total"] == 5


def test_filters_and_paging(site: Site) -> None:
    add(site)

    def starts(query: str) -> list[float]:
        r = site.client.get(f"/api/review?{query}")
        assert r.status_code == 200, r.text
        return [item["start"] - T0 for item in r.json()["items"]]

    assert starts("camera=cam2") == [100]
    assert starts("app=yard") == [10]
    assert starts("zone=gate") == [200, 100, 10]
    assert starts("class_name=car") == [200]
    assert starts("severity=alert") == [10]
    assert starts("type=intrusion") == [10]
    assert starts(f"start={T0 + 50}&end={T0 + 150}") == [100]
    assert starts("limit=2") == [200, 100] and starts("limit=2&offset=2") == [10]
    for bad in ("severity=panic", "limit=0", "limit=501", "start=yesterday", "reviewed=maybe"):
        assert site.client.get(f"/api/review?{bad}").status_code == 422, bad


def test_facets_fill_the_filters_from_what_exists(site: Site) -> None:
    add(site)
    facets = site.client.get("/api/review/facets").json()
    assert facets["cameras"] == ["cam1", "cam2"]
    assert facets["apps"] == ["door", "yard"]  # not "room": occupancy reports are series
    assert facets["zones"] == ["gate", "lawn"]
    assert facets["classes"] == ["bicycle", "car", "person"]
    assert facets["severities"] == ["alert", "detection"]
    assert (facets["first"], facets["last"]) == (T0 + 10, T0 + 200)


def test_reviewed_is_marked_per_user(site: Site) -> None:
    add(site)
    item = site.client.get("/api/review").json()["items"][0]["id"]
    r = site.client.post(f"/api/review/{item}/reviewed")
    assert r.status_code == 200 and r.json() == {"id": item, "reviewed": True}
    assert [i["id"] for i in site.client.get("/api/review?reviewed=true").json()["items"]] == [item]
    assert site.client.get("/api/review?reviewed=false").json()["total"] == 2
    other = site.client.__class__(
        site.client.app, headers=bearer(user_token(site.client.app.state.auth, "eve", "viewer"))
    )
    assert other.get("/api/review?reviewed=true").json()["total"] == 0  # eve's own marks
    assert other.get("/api/review").json()["items"][0]["reviewed"] is False
    assert site.client.delete(f"/api/review/{item}/reviewed").json()["reviewed"] is False
    assert site.client.get("/api/review?reviewed=true").json()["total"] == 0
    assert site.client.post("/api/review/nope/reviewed").status_code == 404


def test_a_restricted_user_sees_only_their_cameras_items(site: Site) -> None:
    add(site)
    auth = site.client.app.state.auth
    token = user_token(auth, "front", "operator", ["cam1"])
    client = site.client.__class__(site.client.app, headers=bearer(token))
    body = client.get("/api/review").json()
    assert {i["camera"] for i in body["items"]} == {"cam1"} and body["total"] == 2
    assert client.get("/api/review/facets").json()["cameras"] == ["cam1"]
    assert client.get("/api/review?camera=cam2").status_code == 403
    theirs = site.client.get("/api/review?camera=cam2").json()["items"][0]["id"]
    assert client.post(f"/api/review/{theirs}/reviewed").status_code == 404


def test_the_object_crop_is_served_and_shown_as_the_thumbnail(site: Site) -> None:
    ev = event(T0 + 10, "cam1", "door", "line_crossing", "person", line="gate",
               attributes={"box": [10.0, 10.0, 20.0, 30.0]})  # fmt: skip
    site.store.add([ev])
    folder = site.state.snapshots_dir / "cam1"
    folder.mkdir(parents=True)
    frame = np.full((48, 64, 3), 90, np.uint8)
    cv2.imwrite(str(folder / f"{ev.id}.jpg"), frame)
    cv2.imwrite(str(folder / f"{ev.id}.crop.jpg"), frame[0:40, 0:40])
    (item,) = site.client.get("/api/review").json()["items"]
    crop = f"/api/events/{ev.id}/crop.jpg"
    assert item["thumbnail"] == crop and item["thumbnails"] == [crop]
    assert site.client.get(f"/api/events/{ev.id}").json()["crop_url"] == crop
    r = site.client.get(crop)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).shape == (40, 40, 3)
    # an event without a crop on disk offers none
    (folder / f"{ev.id}.crop.jpg").unlink()
    assert site.client.get("/api/review").json()["items"][0]["thumbnail"] is None
    assert site.client.get(crop).status_code == 404
