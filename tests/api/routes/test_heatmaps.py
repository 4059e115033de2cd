"""A camera's heat map (PNG and JSON) and dwell times through the API, over track summaries
in the site's real database: the grid, the overlay's size and transparency, roles, camera
restriction and bad ranges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from accounts import bearer, user_token
from api.site import HOUR, T0, Site, jpeg
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.service.messages import RawFrame

RANGE = {"start": T0, "end": T0 + HOUR}


def stay(camera: str, track: int, start: float, x: float, y: float, seconds: float, **kw):
    path = np.array([(0, x, y), (seconds, x, y)], dtype=np.float32)
    return TrackSummary(camera, track, kw.get("cls", "person"), start, start + seconds, path,
                        zones=kw.get("zones", {}))  # fmt: skip


@pytest.fixture
def stored(site: Site) -> Site:
    TrackStore(site.store.database).add(
        [
            stay("cam1", 1, T0 + 100, 0.1, 0.1, 30, zones={"door": 30.0}),
            stay("cam1", 2, T0 + 200, 0.9, 0.9, 10, cls="car", zones={"door": 10.0}),
            stay("cam1", 3, T0 + 300, 0.1, 0.1, 5, zones={"door": 5.0, "till": 5.0}),
            stay("cam2", 4, T0 + 100, 0.5, 0.5, 60, zones={"bench": 60.0}),
        ]
    )
    return site


def test_heatmap_json_grid_and_scale(stored: Site) -> None:
    response = stored.client.get("/api/cameras/cam1/heatmap.json", params={**RANGE, "columns": 4})
    assert response.status_code == 200, response.text
    heat = response.json()
    # no frame yet: a 16:9 grid, 4 x 2
    assert (heat["rows"], heat["columns"], heat["unit"]) == (2, 4, "seconds")
    assert heat["grid"] == [[35.0, 0, 0, 0], [0, 0, 0, 10.0]]
    assert (heat["peak"], heat["total"], heat["tracks"]) == (35.0, 45.0, 3)
    cars = stored.client.get(
        "/api/cameras/cam1/heatmap.json", params={**RANGE, "columns": 4, "class": "car"}
    ).json()
    assert cars["grid"] == [[0, 0, 0, 0], [0, 0, 0, 10.0]] and cars["classes"] == ["car"]
    both = stored.client.get(
        "/api/cameras/cam1/heatmap.json?class=car&class=person", params={**RANGE, "columns": 4}
    ).json()
    assert both["total"] == 45.0
    # default range: the 24 hours before now (the site's clock is T0 + 10 h)
    assert stored.client.get("/api/cameras/cam1/heatmap.json").json()["total"] == 45.0
    stored.clock.now = T0 + 30 * HOUR
    assert stored.client.get("/api/cameras/cam1/heatmap.json").json()["tracks"] == 0


def test_heatmap_png_overlays_the_frame(stored: Site) -> None:
    stored.state.apply(RawFrame("cam1", T0, 320, 240, jpeg(size=(320, 240))))
    response = stored.client.get("/api/cameras/cam1/heatmap.png", params=RANGE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-heatmap-peak"] == "35.000"
    assert response.headers["x-heatmap-tracks"] == "3"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (240, 320, 4)  # the frame's size: 4:3, so a 64 x 48 grid under it
    alpha = image[:, :, 3]
    assert alpha[20:25, 30:35].max() > 200  # the top-left stay (5 px cells), the busiest
    assert alpha[216, 288] > 0  # the car, bottom right
    assert alpha[120, 160] == 0 and alpha[0, 319] == 0  # nobody there
    json_grid = stored.client.get("/api/cameras/cam1/heatmap.json", params=RANGE).json()
    assert (json_grid["rows"], json_grid["columns"]) == (48, 64)


def test_dwell_per_zone(stored: Site) -> None:
    response = stored.client.get("/api/cameras/cam1/dwell", params=RANGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bucket_edges"][:4] == [0, 5, 10, 30]
    door, till = body["zones"]
    assert (door["zone"], door["count"], door["p50"], door["max"]) == ("door", 3, 10.0, 30.0)
    assert door["buckets"][:5] == [0, 1, 1, 1, 0]  # 5 s, 10 s and 30 s
    assert (till["zone"], till["count"]) == ("till", 1)
    people = stored.client.get("/api/cameras/cam1/dwell", params={**RANGE, "class": "person"})
    assert [(z["zone"], z["count"]) for z in people.json()["zones"]] == [("door", 2), ("till", 1)]


def test_a_camera_restricted_viewer_sees_only_their_cameras(stored: Site) -> None:
    app = stored.client.app
    headers = bearer(user_token(app.state.auth, "vic", "viewer", ["cam2"]))  # type: ignore[attr-defined]
    for path in ("heatmap.json", "heatmap.png", "dwell"):
        mine = stored.client.get(f"/api/cameras/cam2/{path}", params=RANGE, headers=headers)
        assert mine.status_code == 200, (path, mine.text)
        other = stored.client.get(f"/api/cameras/cam1/{path}", params=RANGE, headers=headers)
        assert other.status_code == 403, path
        anonymous = stored.client.get(
            f"/api/cameras/cam2/{path}", params=RANGE, headers={"Authorization": ""}
        )
        assert anonymous.status_code == 401, path
    assert stored.client.get("/api/cameras/nope/dwell", params=RANGE).status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": T0, "end": T0 - 1}, "end must be after start"),
        ({"start": T0, "end": T0 + 40 * 86400}, "at most 31 days"),
        ({"start": "yesterday"}, "start"),
        ({"columns": 1000}, "less than or equal to 256"),
    ],
)
def test_bad_ranges_are_refused_in_one_line(stored: Site, params: dict, message: str) -> None:
    for path in ("heatmap.json", "heatmap.png"):
        response = stored.client.get(f"/api/cameras/cam1/{path}", params=params)
        assert response.status_code == 422, response.text
        assert message in response.text
