"""The analytics screen in Debian's chromium against a real `vigil serve` of the sample clip:
opened with a display token alone (no login), it renders today's numbers in large type on a
1920x1080 lobby screen (and fits a laptop and a phone), shows a crossing of the clip's people
within 2 s of its being stored, never shows a picture, and the token opens no other page or
route; revoked, the screen says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from web.dashboard import CAMERA, Dashboard, screenshot, screenshots_on_screens, serving, site_yaml

CROSSING_WAIT_S = 180.0  # the clip loops: people cross the line every few tens of seconds
LINE = "walkway_count"
ZONE = "walkway"
WALKWAY = [[0.2, 0.2], [0.8, 0.2], [0.8, 0.95], [0.2, 0.95]]


@pytest.fixture(scope="module")
def kiosk_site(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[Dashboard]:
    """The dashboard's site, its whole-view occupancy with a capacity (threshold 8), and a
    queue on the walkway (its waits; the tracks' time in it)."""
    text = (
        site_yaml(camera_clip_h264)
        .replace("settings: {report_interval: 2}}", "settings: {report_interval: 2, threshold: 8}}")
        .replace("    lines:\n", f"    zones:\n      {ZONE}: {{points: {WALKWAY}}}\n    lines:\n")
    )
    queue = f"      - {{type: queue, name: desk, settings: {{zone: {ZONE}, report_interval: 2}}}}\n"
    text = text.replace("threshold: 8}}\n", "threshold: 8}}\n" + queue)
    assert "threshold: 8" in text and "zones:" in text and "type: queue" in text
    with serving(tmp_path_factory.mktemp("kiosk"), text, shared_model.parent) as board:
        yield board


def crossings_stored(api: Any, since: float) -> tuple[int, float | None]:
    """Line crossings of today in the database, as the events API (an admin) sees them, and
    the time of the newest (its frame's capture time)."""
    page = api.get("/api/events", params={"type": "line_crossing", "since": since, "limit": 1})
    body = page.json()
    return int(body["total"]), body["items"][0]["start_time"] if body["items"] else None


def crossings_shown(page: Any) -> int:
    shown = page.locator(f'[data-figure="{CAMERA}/{LINE}/in"], [data-figure="{CAMERA}/{LINE}/out"]')
    return sum(int(text) for text in shown.all_inner_texts()) if shown.count() == 2 else -1


def test_the_screen_with_a_display_token_only(kiosk_site: Dashboard, browser: Any) -> None:
    admin = kiosk_site.api("admin")
    csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
    # an admin makes the screen's link on the Admin page
    board = kiosk_site.login(browser, "admin")
    board.page.goto("/admin")
    board.page.fill("#d-name", "lobby")
    board.page.click("#new-screen button[type=submit]")
    link = board.page.locator("#screen-url").inner_text(timeout=10_000)
    board.page.wait_for_selector('#screens tr[data-screen="lobby"]')
    assert "/kiosk?token=" in link
    board.close()
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight.timestamp()

    screen = kiosk_site.browse(browser)  # no login: the token is the only credential
    page = screen.page
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(link)
    assert page.url.endswith("/kiosk")  # the token left the address bar
    kiosk_site.wait(lambda: crossings_shown(page) >= 0, 30, "the screen's line figures")
    page.wait_for_function("() => document.querySelectorAll('.kiosk-meter').length > 0")
    assert page.locator("img, video, picture").count() == 0  # numbers only
    assert "/ 8" in page.locator(f'[data-figure="{CAMERA}/view/now"]').inner_text()
    page.wait_for_selector(f'[data-figure="{CAMERA}/{ZONE}/wait"]', timeout=30_000)
    assert float(page.locator(".kiosk-number").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)")) >= 48  # fmt: skip  # across a room

    # a crossing shows within 2 s of being stored
    before, _ = crossings_stored(admin, since)
    kiosk_site.wait(lambda: crossings_shown(page) == before, 10, "the screen to show the day")
    stored_at = None
    deadline = time.monotonic() + CROSSING_WAIT_S
    while time.monotonic() < deadline:
        if crossings_stored(admin, since)[0] > before:
            stored_at = time.monotonic()
            break
        time.sleep(0.05)
    assert stored_at is not None, "no crossing in the clip"
    target, crossed_at = crossings_stored(admin, since)
    kiosk_site.wait(lambda: crossings_shown(page) >= target, 5, "the crossing on the screen")
    shown_after = time.monotonic() - stored_at
    assert crossed_at is not None
    print(
        f"crossing stored -> on the screen: {shown_after:.2f} s; "
        f"the crossing's frame -> on the screen: {time.time() - crossed_at:.2f} s"
    )
    assert shown_after <= 2.0
    # the tracks that ended are summarised: their stays in the walkway
    page.wait_for_selector(f'[data-figure="{CAMERA}/{ZONE}/dwell"]', timeout=120_000)
    page.wait_for_timeout(1500)  # the chart drawn with the latest hour
    screenshot(page, "kiosk-1920x1080")
    scroll = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert scroll[0] <= 1920 and scroll[1] <= 1080, scroll  # a lobby screen never scrolls
    assert screenshots_on_screens(page, "kiosk") == {"laptop": 0, "phone": 0}

    # the display cookie opens nothing else: pages send it to sign in, the API refuses it
    for path in ("/", "/events", "/analytics", "/recordings", "/admin", f"/cameras/{CAMERA}"):
        page.goto(path)
        assert "/login" in page.url, (path, page.url)
    for path in ("/api/cameras", "/api/events", "/api/counts", "/api/display-tokens"):
        assert screen.context.request.get(path).status == 401, path
    for picture in ("latest.jpg", "frame.jpg"):
        assert screen.context.request.get(f"/api/cameras/{CAMERA}/{picture}").status == 401

    # revoked: the screen says so at its next refresh
    page.goto("/kiosk")
    page.wait_for_selector(".kiosk-number")
    assert admin.delete("/api/display-tokens/lobby", headers=csrf).status_code == 204
    page.wait_for_selector("#kiosk-status:not([hidden])", timeout=3000)
    assert "no longer valid" in page.locator("#kiosk-status").inner_text()
    screen.errors[:] = [e for e in screen.errors if "401" not in e]  # the refused refresh
    screen.close()
    admin.close()
