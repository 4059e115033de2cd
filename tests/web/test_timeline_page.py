"""The recordings timeline in a real browser against a real `vigil serve` of two cameras (the
sample clip, the real model): one row per camera with its footage and event marks, the
range zoomed from minutes to a day, a hover preview of the picture at a moment, a click that
plays that camera from that moment, and a range dragged on a camera's row exported by a
background job; the page at 1366 px and 390 px without horizontal scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.test_serve_e2e import assert_plays
from web.dashboard import CAMERA, Dashboard, screenshot, screenshots_on_screens, serving, site_yaml
from web.test_dashboard import wait_js

pytestmark = pytest.mark.integration

GATE = "gate"  # the second camera: the same clip, recorded, hardly analysed


@pytest.fixture(scope="module")
def two_cameras(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[Dashboard]:
    gate = (
        f"  - id: {GATE}\n    url: {camera_clip_h264}\n    loop: true\n    detect_fps: 1\n"
        "    record: {mode: continuous, segment_seconds: 2}\n"
    )
    text = site_yaml(camera_clip_h264).replace("storage:", gate + "storage:", 1)
    with serving(tmp_path_factory.mktemp("timeline"), text, shared_model.parent) as board:
        yield board


def row_box(page: Any, n: int) -> dict:
    """The bounding box of the timeline's `n`-th camera row (its label's height)."""
    return page.locator("#timeline .vis-labelset .vis-label").nth(n).bounding_box()


#: How many elements of a selector are drawn in each camera row.
IN_ROWS = """selector => {
  const rows = [...document.querySelectorAll('#timeline .vis-labelset .vis-label')]
    .map(l => l.getBoundingClientRect());
  return rows.map(r => [...document.querySelectorAll(selector)].filter(e => {
    const b = e.getBoundingClientRect(), y = b.top + b.height / 2;
    return b.width > 0 && y >= r.top && y <= r.bottom;
  }).length);
}"""


def x_of(page: Any, t: float) -> float:
    """The page x of moment `t` on the timeline's loaded range."""
    start, end = (float(page.get_attribute("#timeline", f"data-{k}")) for k in ("start", "end"))
    panel = page.locator("#timeline .vis-panel.vis-center").bounding_box()
    return panel["x"] + (t - start) / (end - start) * panel["width"]


def loaded_range(page: Any, seconds: float) -> None:
    wait_js(
        page,
        "f => { const d = document.getElementById('timeline')?.dataset;"
        " return d && d.loaded && Math.abs(d.end - d.start - f) < 1; }",
        20,
        arg=seconds,
    )


def test_timeline_of_two_cameras(browser: Any, two_cameras: Dashboard, tmp_path: Path) -> None:
    admin = two_cameras.api("admin")

    def footage() -> dict | None:
        listed = {
            c: admin.get("/api/recordings", params={"camera": c}).json()["segments"]
            for c in (CAMERA, GATE)
        }
        events = admin.get("/api/events", params={"camera": CAMERA, "limit": 1}).json()
        enough = all(len(s) >= 8 for s in listed.values()) and events["total"] > 0
        return listed if enough else None

    listed = two_cameras.wait(footage, 120, "16 s of footage of both cameras and an event")
    admin.close()
    browsing = two_cameras.login(browser, "operator")
    page, context = browsing.page, browsing.context
    try:
        page.goto("/recordings")
        loaded_range(page, 3600)
        # One row per camera, each with its footage; the events as marks.
        labels = page.locator("#timeline .vis-labelset .vis-label").all_inner_texts()
        assert [label.strip() for label in labels] == [CAMERA, GATE]
        spans = page.evaluate(IN_ROWS, "#timeline .vis-item.seg")
        assert len(spans) == 2 and min(spans) >= 1, spans
        assert int(page.get_attribute("#timeline", "data-marks")) > 0
        marks = page.evaluate(IN_ROWS, "#timeline .vis-item.mark")
        assert marks[0] > 0, marks  # the campus camera's events, in its row

        # Zoom: a day, then five minutes; the resolution follows the range.
        page.select_option("#r-span", "86400")
        loaded_range(page, 86400)
        assert float(page.get_attribute("#timeline", "data-bucket")) > 60
        page.select_option("#r-span", "300")
        loaded_range(page, 300)
        assert float(page.get_attribute("#timeline", "data-bucket")) == 1.0
        overflow = screenshots_on_screens(page, "recordings-timeline")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
        loaded_range(page, 300)

        # Hover: the picture at the moment under the pointer, of that camera.
        segment = listed[CAMERA][-4]  # long finished: in the loaded range
        t = segment["start_time"] + 1.0
        row = row_box(page, 0)
        x, y = x_of(page, t), row["y"] + row["height"] / 2
        page.mouse.move(x, y)
        src = wait_js(
            page,
            "() => { const i = document.querySelector('#preview:not([hidden]) img');"
            " return i && i.dataset.loaded && i.complete && i.naturalWidth === 240 && i.dataset.loaded; }",
            20,
        )
        assert f"camera={CAMERA}" in src
        shown = float(src.split("t=")[1].split("&")[0])
        assert abs(shown - t) < 1.5, (shown, t)
        screenshot(page, "recordings-timeline-preview")

        # Click: that camera played from that moment (the segment holding it, seeked there).
        ranges: list[int] = []
        page.on(
            "response", lambda r: "/api/recordings/segments/" in r.url and ranges.append(r.status)
        )
        page.mouse.click(x, y)
        wait_js(
            page,
            "f => { const v = document.getElementById('playback');"
            " return v.dataset.segment === f && v.readyState >= 2 && v.currentTime > 0.5; }",
            20,
            arg=str(segment["id"]),
        )
        offset = page.evaluate("document.getElementById('playback').currentTime")
        assert 0.5 < offset < 2.0, offset  # ~1 s in (a pixel is 0.25 s), maybe played a little
        assert page.get_attribute("#playback", "data-camera") == CAMERA
        # At the end of the segment (2 s long) the player goes on with the next one by itself.
        wait_js(
            page,
            "f => document.getElementById('playback').dataset.segment !== f",
            20,
            arg=str(segment["id"]),
        )
        assert 206 in ranges, ranges  # the browser asked for byte ranges and got them

        # The second camera's row plays the second camera.
        gate_row = row_box(page, 1)
        gate_t = listed[GATE][-7]["start_time"] + 0.5  # clear of the playhead's bar
        page.mouse.click(x_of(page, gate_t), gate_row["y"] + gate_row["height"] / 2)
        wait_js(page, "document.getElementById('playback').dataset.camera === 'gate'", 20)

        # Drag along the second camera's row: its range to export, cut by a job.
        page.click("#r-select")
        first, last = listed[GATE][-6]["start_time"] + 0.5, listed[GATE][-3]["end_time"] - 0.5
        gate_y = gate_row["y"] + gate_row["height"] / 2
        page.mouse.move(x_of(page, first), gate_y)
        page.mouse.down()
        page.mouse.move(x_of(page, last), gate_y, steps=8)
        page.mouse.up()
        assert page.locator("#timeline .vis-item.selection").count() == 1
        assert page.input_value("#x-camera") == GATE
        href = wait_js(page, "() => document.getElementById('export-link').getAttribute('href')", 5)
        assert f"camera={GATE}" in href
        start = float(href.split("start=")[1].split("&")[0])
        end = float(href.split("end=")[1].split("&")[0])
        assert abs(start - first) < 2 and abs(end - last) < 2, (start, end, first, last)
        response = context.request.get(href)  # the link itself exports at once
        assert response.ok and response.headers["content-type"] == "video/mp4"
        with page.expect_download(timeout=30_000) as downloading:
            page.click("#export-link")
        exported = tmp_path / "selection.mp4"
        downloading.value.save_as(exported)
        assert_plays(exported)
        assert page.evaluate("document.getElementById('export-progress').value") == 100
        assert "done" in page.text_content("#export-status")
        screenshot(page, "recordings-timeline-export")
    finally:
        browsing.close()
