"""``/api/events``: filters and pagination, one event, its snapshot and its clip."""

from __future__ import annotations

import json

import pytest

from accounts import bearer, user_token
from api.site import T0, Site, add_segment, event, is_mp4, jpeg
from vigil.api.routes.events import MAX_CLIP_S
from vigil.events import Event
from vigil.service.messages import (
    EventMessage,
)


def test_events_newest_first_with_total(site: Site, events: list[Event]) -> None:
    body = site.client.get("/api/events").json()
    assert body["total"] == 5 and body["limit"] == 100 and body["offset"] == 0
    assert [e["start_time"] for e in body["items"]] == [T0 + 50, T0 + 40, T0 + 30, T0 + 20, T0 + 10]
    first = body["items"][-1]
    assert first["id"] == events[0].id
    assert first["camera"] == "cam1" and first["app"] == "door"
    assert first["type"] == "line_crossing" and first["class_name"] == "person"
    assert first["line"] == "gate" and first["attributes"] == {"direction": "in"}
    assert first["snapshot_url"] is None
    assert first["clip_url"] == f"/api/events/{events[0].id}/clip.mp4"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("camera=cam1", [50, 20, 10]),
        ("camera=cam2", [40, 30]),
        ("camera=nobody", []),
        ("app=door", [20, 10]),
        ("type=line_crossing", [20, 10]),
        ("class_name=car", [20]),
        ("class_name=person&camera=cam2", [40, 30]),
        (f"since={T0 + 20}", [50, 40, 30, 20]),
        (f"until={T0 + 20}", [10]),
        (f"since={T0 + 15}&until={T0 + 45}", [40, 30, 20]),
        ("since=2023-11-14T22:13:40Z&until=2023-11-14T22:14:05Z", [40, 30, 20]),
    ],
)
def test_events_filters(site: Site, events: list[Event], query: str, expected: list[int]) -> None:
    body = site.client.get(f"/api/events?{query}").json()
    assert [e["start_time"] - T0 for e in body["items"]] == expected
    assert body["total"] == len(expected)


def test_events_pagination(site: Site, events: list[Event]) -> None:
    pages = [site.client.get(f"/api/events?limit=2&offset={o}").json() for o in (0, 2, 4, 6)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    ids = [e["id"] for p in pages for e in p["items"]]
    assert ids == [e.id for e in reversed(events)]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "offset=99999999999999999999",
        "since=yesterday",
        "since=nan",
        "until=inf",
        "since=1e999",
    ],
)
def test_events_bad_params_are_422(site: Site, query: str) -> None:
    r = site.client.get(f"/api/events?{query}")
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


def test_non_finite_attributes_become_null(site: Site) -> None:
    ev = event(T0, attributes={"speed": float("nan"), "v": [1.0, float("inf")]})
    site.store.add([ev])
    r = site.client.get(f"/api/events/{ev.id}")
    assert r.status_code == 200
    assert r.json()["attributes"] == {"speed": None, "v": [1.0, None]}
    assert site.client.get("/api/events").status_code == 200
    with site.client.websocket_connect("/api/ws") as ws:
        site.state.hub.publish(EventMessage(ev, T0))
        assert json.loads(ws.receive_text())["attributes"] == {"speed": None, "v": [1.0, None]}


def test_event_detail_and_404(site: Site, events: list[Event]) -> None:
    body = site.client.get(f"/api/events/{events[2].id}").json()
    assert body["type"] == "intrusion" and body["state"] == "start"
    assert body["end_time"] is None and body["zone"] == "lawn"
    for path in ("/api/events/nope", "/api/events/nope/snapshot.jpg", "/api/events/nope/clip.mp4"):
        r = site.client.get(path)
        assert r.status_code == 404
        assert r.json() == {"detail": "unknown event 'nope'"}


def test_event_snapshot(site: Site, events: list[Event]) -> None:
    ev = events[0]
    assert site.client.get(f"/api/events/{ev.id}/snapshot.jpg").status_code == 404
    image = jpeg(90)
    path = site.state.snapshots_dir / "cam1" / f"{ev.id}.jpg"  # where workers write them
    path.parent.mkdir(parents=True)
    path.write_bytes(image)
    r = site.client.get(f"/api/events/{ev.id}/snapshot.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == image
    body = site.client.get(f"/api/events/{ev.id}").json()
    assert body["snapshot_url"] == f"/api/events/{ev.id}/snapshot.jpg"

    # a snapshot elsewhere, named by the worker's event message
    other = site.tmp / "elsewhere.jpg"
    other.write_bytes(jpeg(30))
    site.state.apply(EventMessage(events[1], T0, str(other)))
    r = site.client.get(f"/api/events/{events[1].id}/snapshot.jpg")
    assert r.status_code == 200 and r.content == other.read_bytes()


def test_event_clip_is_cut_once_and_cached(site: Site, events: list[Event]) -> None:
    ev = events[0]  # instant at T0 + 10
    add_segment(site, "cam1", T0, T0 + 10)
    add_segment(site, "cam1", T0 + 10, T0 + 20)
    r = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert is_mp4(r.content)
    assert ev.id in r.headers["content-disposition"]
    assert site.recording.calls == [
        ("event_clip", ("cam1", T0 + 10, T0 + 10), {"pre": 5.0, "post": 5.0})
    ]
    cached = site.state.exports_dir / "clips" / f"{ev.id}.mp4"
    assert cached.is_file()
    again = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert again.status_code == 200 and again.content == r.content
    assert len(site.recording.calls) == 1  # served from the cache
    assert not list((site.state.exports_dir / "clips").glob(".tmp-*"))
    total, entries = site.client.app.state.auth.audit_log(action="playback.clip")  # type: ignore[attr-defined]
    assert total == 2  # every playback is in the audit log: who, what, from where
    assert (entries[0].username, entries[0].target, entries[0].client_ip) == (
        "admin", ev.id, "testclient",
    )  # fmt: skip
    assert entries[0].detail == {"camera": "cam1", "masked": False}


def test_event_clip_of_ongoing_event_is_not_cached(site: Site, events: list[Event]) -> None:
    ev = events[2]  # intrusion on cam2, started at T0 + 30, no end yet
    add_segment(site, "cam2", T0 + 20, T0 + 40)
    site.clock.now = T0 + 41
    r = site.client.get(f"/api/events/{ev.id}/clip.mp4")
    assert r.status_code == 200 and is_mp4(r.content)
    assert not (site.state.exports_dir / "clips" / f"{ev.id}.mp4").exists()
    assert not list((site.state.exports_dir / "clips").glob(".tmp-*"))  # temp removed


def test_event_clip_of_event_left_open_is_bounded(site: Site, events: list[Event]) -> None:
    ev = events[2]  # started at T0 + 30 and never ended; now is ten hours later
    add_segment(site, "cam2", T0 + 20, T0 + 40)
    assert site.client.get(f"/api/events/{ev.id}/clip.mp4").status_code == 200
    ((_, (_, start, end), roll),) = site.recording.calls
    assert start == T0 + 30 and end == T0 + 30 + MAX_CLIP_S
    assert roll == {"pre": 5.0, "post": 0.0}


def test_event_clip_without_footage_is_404(site: Site, events: list[Event]) -> None:
    add_segment(site, "cam1", T0 + 1000, T0 + 1010)
    r = site.client.get(f"/api/events/{events[0].id}/clip.mp4")
    assert r.status_code == 404 and "no recording" in r.json()["detail"]
    site.state.index = None
    r = site.client.get(f"/api/events/{events[0].id}/clip.mp4")
    assert r.status_code == 404 and "not enabled" in r.json()["detail"]


def test_restricted_users_event_list_and_counts(site: Site, events: list[Event]) -> None:
    """A user limited to some cameras lists and counts only their events (all pages)."""
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    only_cam2 = bearer(user_token(auth, "frontdesk", "viewer", ["cam2"]))
    body = site.client.get("/api/events?limit=1", headers=only_cam2).json()
    assert body["total"] == 2 and [e["start_time"] - T0 for e in body["items"]] == [40]
    body = site.client.get("/api/events?limit=1&offset=1&class_name=person", headers=only_cam2)
    assert [e["start_time"] - T0 for e in body.json()["items"]] == [30]
    assert site.client.get("/api/events?camera=cam2", headers=only_cam2).json()["total"] == 2
    assert site.client.get("/api/events?camera=cam1", headers=only_cam2).status_code == 403
    nobody = bearer(user_token(auth, "lab-only", "viewer", ["lab"]))  # a camera without events
    assert site.client.get("/api/events", headers=nobody).json() == {
        "total": 0, "limit": 100, "offset": 0, "items": [],
    }  # fmt: skip
