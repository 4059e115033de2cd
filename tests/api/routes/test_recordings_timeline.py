"""The recordings timeline's API: footage and activity of several cameras over any range
(``GET /api/recordings/timeline``, summed by the real `SegmentIndex` in SQLite) and the
picture at a moment (``GET /api/recordings/frame.jpg``, decoded from a real MP4), with
their role and camera restrictions and their audit. Masked previews: tests/privacy."""

from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from accounts import bearer, user_token
from api.site import T0, Site, write_mp4
from vigil.recording import SegmentIndex
from vigil.service.messages import SegmentInfo

DAY = 86400.0


@pytest.fixture
def index(site: Site) -> SegmentIndex:
    """A real segment index in the site's database, serving the API."""
    real = SegmentIndex(site.store.database)
    site.state.index = real
    return real


def segments(camera: str, start: float, end: float, length: float, **flags: bool) -> list:
    """Back-to-back segments of `length` seconds from `start` to `end` (no files)."""
    times = np.arange(start, end, length)
    return [
        SegmentInfo(
            camera, f"/rec/{camera}/{t:.0f}.mp4", float(t), float(t) + length, 1000, **flags
        )
        for t in times
    ]


def spans(body: dict, camera: str) -> list[tuple[float, float, bool, bool]]:
    row = next(c for c in body["cameras"] if c["camera"] == camera)
    return [(s["start"] - T0, s["end"] - T0, s["motion"], s["objects"]) for s in row["spans"]]


def test_a_week_of_two_cameras_comes_back_as_a_few_spans(site: Site, index: SegmentIndex) -> None:
    # cam1: a week of 10 s segments, motion in the second day's first hour, objects in the
    # third day's first hour, nothing recorded on the fifth day; cam2: one day.
    infos = segments("cam1", T0, T0 + DAY, 10)
    infos += segments("cam1", T0 + DAY, T0 + DAY + 3600, 10, motion=True)
    infos += segments("cam1", T0 + DAY + 3600, T0 + 2 * DAY, 10)
    infos += segments("cam1", T0 + 2 * DAY, T0 + 2 * DAY + 3600, 10, objects=True, motion=True)
    infos += segments("cam1", T0 + 2 * DAY + 3600, T0 + 4 * DAY, 10)
    infos += segments("cam1", T0 + 5 * DAY, T0 + 7 * DAY, 10)
    infos += segments("cam2", T0 + DAY, T0 + 2 * DAY, 10)
    index.add_many(infos)
    assert index.count() == 7 * 8640  # cam1 six days, cam2 one

    began = time.perf_counter()
    r = site.client.get(
        "/api/recordings/timeline",
        params={"camera": ["cam1", "cam2"], "start": T0, "end": T0 + 7 * DAY, "buckets": 168},
    )
    took = time.perf_counter() - began
    print(f"timeline of a week, 60,480 segments: {took * 1000:.0f} ms")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bucket_s"] == 3600.0
    assert [c["camera"] for c in body["cameras"]] == ["cam1", "cam2"]
    hour = 3600.0
    assert spans(body, "cam1") == [
        (0, DAY, False, False),
        (DAY, DAY + hour, True, False),
        (DAY + hour, 2 * DAY, False, False),
        (2 * DAY, 2 * DAY + hour, True, True),
        (2 * DAY + hour, 4 * DAY, False, False),
        (5 * DAY, 7 * DAY, False, False),
    ]
    assert spans(body, "cam2") == [(DAY, 2 * DAY, False, False)]
    cam1 = body["cameras"][0]
    assert cam1["recorded_s"] == 6 * DAY
    assert took < 2.0, f"a week of 52,000 segments took {took:.2f} s"

    # Zoomed in to two minutes: the resolution follows (1 s), the segments show as they are.
    r = site.client.get(
        "/api/recordings/timeline",
        params={"camera": "cam1", "start": T0 + DAY - 60, "end": T0 + DAY + 60},
    )
    body = r.json()
    assert body["bucket_s"] == 1.0
    assert spans(body, "cam1") == [(DAY - 60, DAY, False, False), (DAY, DAY + 60, True, False)]
    assert body["cameras"][0]["recorded_s"] == 120.0


def test_short_gaps_and_segments_over_the_edges(site: Site, index: SegmentIndex) -> None:
    index.add_many(
        [
            SegmentInfo("cam1", "/a.mp4", T0 - 5, T0 + 5, 1),  # starts before the range
            SegmentInfo("cam1", "/b.mp4", T0 + 5, T0 + 15, 1),
            SegmentInfo("cam1", "/c.mp4", T0 + 40, T0 + 50, 1, motion=True),
            SegmentInfo("cam1", "/d.mp4", T0 + 55, T0 + 65, 1, motion=True),  # over the end
        ]
    )
    r = site.client.get(
        "/api/recordings/timeline", params={"camera": "cam1", "start": T0, "end": T0 + 60}
    )
    body = r.json()
    assert spans(body, "cam1") == [
        (0, 15, False, False),
        (40, 50, True, False),
        (55, 60, True, False),
    ]
    assert body["cameras"][0]["recorded_s"] == 30.0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"camera": "cam1", "start": T0, "end": T0}, 422),
        ({"camera": "cam1", "start": T0, "end": T0 + 32 * DAY}, 422),
        ({"camera": "cam1", "start": T0, "end": T0 + 60, "buckets": 0}, 422),
        ({"start": T0, "end": T0 + 60}, 422),  # a camera is required
        ({"camera": ["cam1", "nope"], "start": T0, "end": T0 + 60}, 404),
    ],
)
def test_timeline_bad_requests(site: Site, index: SegmentIndex, query: dict, status: int) -> None:
    assert site.client.get("/api/recordings/timeline", params=query).status_code == status


def restricted(site: Site, username: str, role: str, cameras: list[str] | None = None) -> dict:
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    return bearer(user_token(auth, username, role, cameras))


def test_timeline_and_preview_need_an_operator_who_may_see_every_camera_named(
    site: Site, index: SegmentIndex
) -> None:
    path = write_mp4(site.tmp / "data" / "recordings" / "cam2" / "a.mp4")
    index.add_many([SegmentInfo("cam2", str(path), T0, T0 + 1, 1)])
    viewer = restricted(site, "vera", "viewer")
    only_cam1 = restricted(site, "otto", "operator", ["cam1"])
    timeline = {"camera": ["cam1", "cam2"], "start": T0, "end": T0 + 60}
    frame = {"camera": "cam2", "t": T0 + 0.5}
    for headers in (viewer, only_cam1):
        assert (
            site.client.get(
                "/api/recordings/timeline", params=timeline, headers=headers
            ).status_code
            == 403
        )
        assert (
            site.client.get("/api/recordings/frame.jpg", params=frame, headers=headers).status_code
            == 403
        )
    one = {"camera": "cam1", "start": T0, "end": T0 + 60}
    assert (
        site.client.get("/api/recordings/timeline", params=one, headers=only_cam1).status_code
        == 200
    )


def grey(jpeg: bytes) -> float:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return float(image.mean())


def test_the_picture_at_a_moment_is_the_frame_shown_then(site: Site, index: SegmentIndex) -> None:
    # Two 1 s segments of 10 frames each; frame i of a segment is grey (i * 20) % 255.
    folder = site.tmp / "data" / "recordings" / "cam1"
    first = write_mp4(folder / "a.mp4")
    second = write_mp4(folder / "b.mp4")
    index.add_many(
        [
            SegmentInfo("cam1", str(first), T0, T0 + 1, first.stat().st_size),
            SegmentInfo("cam1", str(second), T0 + 1, T0 + 2, second.stat().st_size),
        ]
    )
    for t, frame in ((T0, 0), (T0 + 0.55, 5), (T0 + 0.95, 9), (T0 + 1.32, 3)):
        r = site.client.get(
            "/api/recordings/frame.jpg", params={"camera": "cam1", "t": t, "width": 32}
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg"
        assert abs(grey(r.content) - frame * 20) < 6, (t, grey(r.content))
        image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (24, 32)  # scaled to the width asked for, aspect kept

    again = site.client.get(
        "/api/recordings/frame.jpg", params={"camera": "cam1", "t": T0 + 0.55, "width": 32}
    )
    assert grey(again.content) == pytest.approx(100, abs=6)
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    _, entries = auth.audit_log(action="playback.frame")
    assert len(entries) == 5  # every picture served
    assert {e.detail["segment"] for e in entries} == {1, 2}
    assert all(e.detail["masked"] is False for e in entries)

    # A finished segment never changes: a picture asked for again comes from the cache (the
    # file rewritten white shows which pictures were decoded again).
    white = site.tmp / "white.mp4"
    with av.open(str(white), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(10):
            picture = np.full((48, 64, 3), 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    white.replace(first)
    cached = site.client.get(
        "/api/recordings/frame.jpg", params={"camera": "cam1", "t": T0 + 0.55, "width": 32}
    )
    assert cached.content == again.content
    fresh = site.client.get(
        "/api/recordings/frame.jpg", params={"camera": "cam1", "t": T0 + 0.75, "width": 32}
    )
    assert grey(fresh.content) > 240

    nothing = site.client.get("/api/recordings/frame.jpg", params={"camera": "cam1", "t": T0 + 5})
    assert nothing.status_code == 404 and "nothing recorded" in nothing.json()["detail"]
    Path(first).unlink()  # deleted by retention
    gone = site.client.get("/api/recordings/frame.jpg", params={"camera": "cam1", "t": T0 + 0.2})
    assert gone.status_code == 404
    unknown = site.client.get("/api/recordings/frame.jpg", params={"camera": "nope", "t": T0})
    assert unknown.status_code == 404
