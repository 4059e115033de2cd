"""``POST /api/search/tracks``: forensic search through the API, over track summaries in
the site's real database; camera restriction and bad requests."""

from __future__ import annotations

import numpy as np
import pytest

from accounts import bearer, user_token
from api.site import T0, Site
from vigil.forensics import TrackStore, TrackSummary

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
