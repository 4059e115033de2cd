"""``POST /api/search/tracks``: forensic search through the API, over track summaries in
the site's real database; camera restriction and bad requests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from accounts import bearer, user_token
from api.site import T0, Site
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary

SQUARE = [[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]]


def walk(camera: str, track: int, start: float, points: list[tuple[float, float]], cls="person"):
    path = np.array([(i, x, y) for i, (x, y) in enumerate(points)], dtype=np.float32)
    return TrackSummary(camera, track, cls, start, start + len(points) - 1, path)


@pytest.fixture
def stored(site: Site) -> Site:
    TrackStore(site.store.database).add(
        [
            walk("cam1", 1, T0 + 100, [(0.1, 0.5), (0.45, 0.5), (0.9, 0.5)]),
            walk("cam1", 2, T0 + 200, [(0.1, 0.1), (0.9, 0.1)], cls="car"),
            walk("cam2", 3, T0 + 150, [(0.5, 0.5), (0.5, 0.9)]),
        ]
    )
    return site


def test_polygon_search_gives_the_moment_to_play(stored: Site) -> None:
    body = {"start": T0, "end": T0 + 3600, "polygon": SQUARE}
    response = stored.client.post("/api/search/tracks", json=body)
    assert response.status_code == 200, response.text
    hits = response.json()
    assert [(h["camera"], h["track_id"], h["moment"] - T0) for h in hits] == [
        ("cam1", 1, 101.0),
        ("cam2", 3, 150.0),
    ]
    assert hits[0]["path"][0] == [T0 + 100, pytest.approx(0.1), pytest.approx(0.5)]
    line = {"start": T0, "end": T0 + 3600, "line": [[0.5, 0.0], [0.5, 1.0]], "direction": "out"}
    assert [h["track_id"] for h in stored.client.post("/api/search/tracks", json=line).json()] == [
        1,
        2,
    ]
    cars = {"start": T0, "end": T0 + 3600, "classes": ["car"], "cameras": ["cam1"]}
    assert [h["track_id"] for h in stored.client.post("/api/search/tracks", json=cars).json()] == [
        2
    ]


def test_a_camera_restricted_operator_searches_only_their_cameras(stored: Site) -> None:
    app = stored.client.app
    headers = bearer(user_token(app.state.auth, "olga", "operator", ["cam2"]))  # type: ignore[attr-defined]
    body = {"start": T0, "end": T0 + 3600}
    hits = stored.client.post("/api/search/tracks", json=body, headers=headers).json()
    assert [h["camera"] for h in hits] == ["cam2"]
    refused = stored.client.post(
        "/api/search/tracks", json={**body, "cameras": ["cam1"]}, headers=headers
    )
    assert refused.status_code == 403
    viewer = bearer(user_token(app.state.auth, "vic", "viewer"))  # type: ignore[attr-defined]
    assert stored.client.post("/api/search/tracks", json=body, headers=viewer).status_code == 403


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end": T0 - 1}, "end must be after start"),
        ({"end": T0 + 40 * 86400}, "at most 31 days"),
        ({"direction": "in"}, "direction needs a line"),
        ({"polygon": [[0.1, 0.1], [0.2, 0.2]]}, "at least 3"),
        ({"polygon": [[0.1, 0.1], [2, 0.2], [0.3, 0.3]]}, "less than or equal to 1"),
    ],
)
def test_bad_searches_are_refused_in_one_line(stored: Site, change: dict, message: str) -> None:
    response = stored.client.post(
        "/api/search/tracks", json={"start": T0, "end": T0 + 60, **change}
    )
    assert response.status_code == 422
    assert message in response.text


def sharp_crop() -> bytes:
    """A 40x80 checkerboard JPEG: every pixel next to a different one."""
    board = ((np.indices((80, 40)).sum(axis=0) // 4) % 2 * 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", cv2.merge([board] * 3))
    assert ok
    return jpeg.tobytes()


def sharpness(jpeg: bytes) -> float:
    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_a_tracks_crop_is_masked_as_the_cameras_policy_says(privacy_site) -> None:
    site = privacy_site
    crop = sharp_crop()
    summary = TrackSummary(
        "cam1", 7, "person", 100.0, 104.0,
        np.array([(0, 0.2, 0.5), (4, 0.8, 0.5)], dtype=np.float32),
        crop=crop, crop_box=(10, 20, 50, 100, 640, 480),
    )  # fmt: skip
    TrackStore(site.state.events.database).add([summary])
    (hit,) = site.client("admin").post("/api/search/tracks", json={"start": 0, "end": 1000}).json()
    assert hit["crop_url"] == f"/api/search/tracks/{hit['id']}/crop.jpg"
    unmasked = site.client("admin").get(hit["crop_url"])  # cam1 masks viewers and operators
    assert unmasked.status_code == 200 and unmasked.content == crop
    masked = site.client("operator").get(hit["crop_url"])
    assert masked.status_code == 200 and masked.headers["content-type"] == "image/jpeg"
    assert sharpness(masked.content) <= 0.3 * sharpness(crop)
    views = [r.detail for r in site.auth.audit_log(action="privacy.view")[1]]
    assert any(v.get("what") == "track_crop" and v.get("masked") for v in views), views
    assert site.client("admin").get("/api/search/tracks/999/crop.jpg").status_code == 404
