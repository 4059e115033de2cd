"""The dashboard in a real browser (Debian's chromium through Playwright) against a real
`vigil serve` of the sample clip with the real model: sign in, the live grid's first frame
and object metadata, the zone editor changing a running camera, an event's clip played
by the browser (recordings: test_timeline_page.py), the other pages, and a viewer refused.

Tests run in file order on one service (the zone test adds a zone the later pages show);
each also works alone.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from web.dashboard import CAMERA, PASSWORDS, PURPOSE, Dashboard, screenshot

pytestmark = pytest.mark.integration

FIRST_FRAME_S = 1.5  # target: the live grid shows a frame this soon after the page loads
# The walkway of the sample clip (the demo site's zone), normalised to the frame.
WALKWAY = [(0.02, 0.31), (0.62, 0.33), (0.86, 0.31), (0.98, 0.47), (0.98, 0.84), (0.6, 0.65),
           (0.3, 0.52), (0.02, 0.43)]  # fmt: skip


def wait_js(page: Any, expression: str, timeout_s: float, arg: Any = None) -> Any:
    """Wait until the JavaScript `expression` is truthy; its value. (A function, as the
    pages' Content-Security-Policy forbids evaluating strings.)"""
    function = expression if expression.startswith(("()", "f =>")) else f"() => ({expression})"
    return page.wait_for_function(function, arg=arg, timeout=timeout_s * 1000).json_value()


def test_login_form_and_live_grid(browser: Any, dashboard: Dashboard):
    browsing = dashboard.browse(browser)
    page = browsing.page
    try:
        # Not signed in: the dashboard sends the browser to the login form, then back.
        page.goto("/events")
        assert "/login?next=%2Fevents" in page.url
        page.wait_for_selector("#login-form")
        screenshot(page, "login")
        page.fill("#username", "admin")
        page.fill("#password", "wrong password here")
        page.click("button[type=submit]")
        page.wait_for_selector("#error:not([hidden])")
        assert "Wrong username or password" in page.inner_text("#error")
        assert browsing.errors == [
            "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
        ]  # the refused login, and nothing else
        browsing.errors.clear()
        page.fill("#password", PASSWORDS["admin"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{dashboard.url}/events")

        # The live grid: time from navigation to the MJPEG <img> showing a decoded frame.
        page.goto("/")
        first_ms = wait_js(
            page,
            "() => { const img = document.querySelector('img.live');"
            " return img && img.naturalWidth > 0 && performance.now(); }",
            10,
        )
        print(f"live grid: first frame {first_ms:.0f} ms after navigation start")
        assert first_ms < FIRST_FRAME_S * 1000

        # The objects of each analysed frame arrive over the WebSocket; their lag is from the
        # frame's capture to the browser (the boxes in the picture are drawn on the frame
        # itself by the server, so they lag the picture by nothing).
        lags, counts = [], []
        deadline = time.monotonic() + 20
        while len(lags) < 10 and time.monotonic() < deadline:
            found = page.wait_for_selector(".objects[data-frame]", timeout=20_000)
            frame = found.get_attribute("data-frame")
            lags.append(float(found.get_attribute("data-lag-ms")))
            counts.append(int(found.get_attribute("data-objects")))
            page.wait_for_function(
                "f => document.querySelector('.objects').dataset.frame !== f", arg=frame
            )
        assert len(lags) >= 5, lags
        print(f"objects metadata lag after capture: median {statistics.median(lags):.0f} ms, "
              f"max {max(lags):.0f} ms over {len(lags)} frames")  # fmt: skip
        assert statistics.median(lags) < 1000, lags
        assert max(counts) > 0, counts  # the walkway always has people on it

        # How old the annotated live frame (the one MJPEG sends next) is when it is served.
        ages = []
        for _ in range(10):
            response = browsing.context.request.get(f"/api/cameras/{CAMERA}/latest.jpg")
            ages.append((time.time() - float(response.headers["x-frame-time"])) * 1000)
            time.sleep(0.1)
        print(f"annotated live frame age when served: median {statistics.median(ages):.0f} ms, "
              f"max {max(ages):.0f} ms")  # fmt: skip
        assert statistics.median(ages) < 1000, ages
        screenshot(page, "live-grid")
    finally:
        browsing.close()


def test_zone_editor_changes_the_running_camera(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}/zones")
        page.wait_for_selector("#new-zone")
        overlay = page.locator("#overlay")
        wait_js(page, "document.getElementById('frame').naturalWidth > 0", 10)

        # A line with one point is refused before saving, in plain words.
        page.click("#new-line")
        box = overlay.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
        page.click("#save")
        page.wait_for_selector("#error:not([hidden])")
        error = page.inner_text("#error")
        assert error.strip() == "Line line1: a line needs 2 points (it has 1).", error
        page.click("text=Delete line")

        # Draw the walkway, name it, put an occupancy app on it, save.
        page.click("#new-zone")
        box = overlay.bounding_box()  # the error line above moved it down
        for x, y in WALKWAY:
            page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
        # Drag the first point a little: the handles move.
        handle = page.locator("circle.handle").first
        hb = handle.bounding_box()
        page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.01, box["y"] + box["height"] * 0.30, steps=4)
        page.mouse.up()
        # The keyboard moves points too (Shift+arrow: 1/20 of the frame) and removes them.
        page.locator("circle.handle").first.focus()
        page.keyboard.press("Shift+ArrowDown")
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.9)
        assert page.locator("circle.handle").count() == len(WALKWAY) + 1
        page.locator("circle.handle").last.focus()
        page.keyboard.press("Delete")
        page.fill("#shape-name", "path")
        page.press("#shape-name", "Tab")
        page.select_option("#add-app-type", "occupancy")
        page.select_option("#add-app-classes", ["person"])
        page.click("#add-app")
        page.click("#save")
        page.wait_for_selector("#save-status[data-saved]")
        assert page.get_attribute("#save-status", "data-saved") == "live", page.inner_text(
            "#save-status"
        )
        assert page.inner_text("#error") == "" or page.is_hidden("#error")
        screenshot(page, "zone-editor")

        # Saved in the site YAML in normalised coordinates, the app watching it.
        site = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())
        camera = site["cameras"][0]
        points = camera["zones"]["path"]["points"]
        assert len(points) == len(WALKWAY)
        assert all(0 <= c <= 1 for p in points for c in p)
        step = max(768, 576) / 20 / 576  # Shift+ArrowDown, normalised to the 768x576 frame
        assert abs(points[0][0] - 0.01) < 0.01 and abs(points[0][1] - 0.30 - step) < 0.01, points[0]
        apps = {a["name"]: a for a in camera["apps"]}
        assert apps["path_occupancy"]["settings"] == {"zone": "path", "classes": ["person"]}

        # Applied without a restart: the camera page shows the new app's counter moving.
        pids = dashboard.log.worker_pids(CAMERA)
        page.goto(f"/cameras/{CAMERA}")
        row = page.locator('#app-counters tr[data-app="path_occupancy"] .counters')
        seen: set[str] = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(seen) < 2:
            text = row.inner_text(timeout=30_000) if row.count() else ""
            if text.startswith("current"):
                seen.add(text.split(",")[0])
            time.sleep(0.5)
        assert len(seen) >= 2, f"the zone's counter did not change: {seen}"
        assert dashboard.log.worker_pids(CAMERA) == pids  # the same worker: no restart
        screenshot(page, "camera")
    finally:
        browsing.close()


def test_review_item_plays_in_the_browser(browser: Any, dashboard: Dashboard):
    admin = dashboard.api("admin")
    # A review item whose footage (pre- and post-roll of 1 s, 2 s segments) is all recorded.
    dashboard.wait(
        lambda: admin.get(
            "/api/review", params={"camera": CAMERA, "end": time.time() - 8, "limit": 1}
        ).json()["total"],
        60,
        "a review item with its footage recorded",
    )
    admin.close()
    until = int(time.time() - 8)
    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        page.goto(f"/events?camera={CAMERA}&end={until}")
        page.wait_for_selector(".review-item .play")
        screenshot(page, "events")
        page.locator(".review-item").last.locator(".play").click()
        page.wait_for_selector("#clip")
        wait_js(page, "document.getElementById('clip').readyState >= 2", 30)
        start = page.evaluate("document.getElementById('clip').currentTime")
        wait_js(page, f"document.getElementById('clip').currentTime > {start} + 0.3", 10)
        assert page.evaluate("document.getElementById('clip').videoWidth") == 768
        screenshot(page, "event-clip")
    finally:
        browsing.close()


def test_apps_page_adds_an_instance_to_a_running_camera(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    admin = dashboard.api("admin")
    try:
        page.goto("/apps")
        card = page.locator('section[data-app="occupancy"]')
        card.locator("summary", has_text="Add to a camera").click()
        form = card.locator('form[data-instance=""]')
        form.get_by_label("Camera").select_option(CAMERA)
        form.get_by_label("Instance name").fill("headcount")
        form.get_by_role("button", name="Add to camera").click()
        wait_js(page, "document.getElementById('apps-status').textContent.startsWith('Saved')", 20)
        assert page.inner_text("#apps-status") == "Saved (live).", page.inner_text("#apps-status")
        page.wait_for_selector(f'details[data-camera="{CAMERA}"][data-instance="headcount"]')
        site = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())
        assert any(a["name"] == "headcount" for a in site["cameras"][0]["apps"])

        # The camera page shows the new instance running, with its live counter.
        page.goto(f"/cameras/{CAMERA}")
        row = page.locator('#app-counters tr[data-app="headcount"][data-state="running"]')
        row.wait_for(timeout=30_000)
        wait_js(
            page,
            "document.querySelector('#app-counters tr[data-app=\"headcount\"] .counters').textContent.startsWith('current')",
            15,
        )
    finally:
        admin.delete(
            f"/api/cameras/{CAMERA}/apps/headcount",
            headers={"X-CSRF-Token": admin.cookies["vigil_csrf"]},
        )
        admin.close()
        browsing.close()


def test_admin_creates_an_api_token_shown_once(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        page.goto("/admin")
        page.locator('#users tr[data-user="viewer"]').get_by_role(
            "button", name="API tokens"
        ).click()
        page.fill("#t-name", "reporting")
        page.get_by_role("button", name="New API token").click()
        token = page.locator("#token-value").inner_text(timeout=10_000).strip()
        assert "shown once" in page.inner_text("#token") and len(token) > 20
        with httpx.Client(
            base_url=dashboard.url, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            cameras = client.get("/api/cameras")
            assert cameras.status_code == 200 and [c["id"] for c in cameras.json()] == [CAMERA]
            assert client.get("/api/users").status_code == 403  # the viewer's token: a viewer
        page.reload()
        page.wait_for_selector('#users tr[data-user="viewer"]')
        assert token not in page.content()  # never shown again
    finally:
        browsing.close()


def test_analytics_system_apps_and_admin_pages(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        admin = dashboard.api("admin")
        dashboard.wait(
            lambda: admin.get("/api/counts", params={"camera": CAMERA}).json()["occupancy"],
            30,
            "occupancy samples",
        )
        page.goto(f"/analytics?camera={CAMERA}")
        page.wait_for_selector("#occupancy-chart")
        page.select_option("#a-range", str(6 * 3600))
        page.select_option("#a-interval", "300")
        page.click("text=Show")
        page.wait_for_selector("#occupancy-chart")
        page.wait_for_timeout(300)  # the chart draws on the next frame
        screenshot(page, "analytics")

        page.goto("/system")
        row = page.wait_for_selector(f'#sys-table tr[data-camera="{CAMERA}"]')
        assert "online" in row.inner_text()
        # How the camera is decoded: this machine has no GPU decoder, so in software.
        assert row.query_selector("td.decoder").inner_text().startswith("software")
        screenshot(page, "system")

        # An admin changes an app's settings with the form made from its JSON Schema.
        page.goto("/apps")
        instance = page.locator(f'details[data-camera="{CAMERA}"][data-instance="everyone"]')
        instance.locator("summary").click()
        instance.get_by_label("Report Interval").fill("3")
        instance.get_by_role("button", name="Save").click()
        wait_js(page, "document.getElementById('apps-status').textContent.startsWith('Saved')", 20)
        assert page.inner_text("#apps-status") == "Saved (live).", page.inner_text("#apps-status")
        site = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())
        everyone = next(a for a in site["cameras"][0]["apps"] if a["name"] == "everyone")
        assert everyone["settings"] == {"report_interval": 3}, everyone  # defaults left out
        page.locator(f'details[data-camera="{CAMERA}"][data-instance="walkers"] summary').click()
        screenshot(page, "apps")

        # Users: add one with the form, then remove it (after the browser's confirmation).
        page.goto("/admin")
        page.wait_for_selector('#users tr[data-user="viewer"]')
        page.wait_for_selector("#audit td:text-is('login')")
        page.fill("#u-name", "guard")
        page.fill("#u-password", "guard-pass-4821")
        page.select_option("#u-role", "operator")
        page.fill("#u-cameras", CAMERA)
        page.click("text=Add user")
        row = page.wait_for_selector('#users tr[data-user="guard"]')
        assert "operator" in row.inner_text() and CAMERA in row.inner_text()
        users = {u["username"]: u for u in admin.get("/api/users").json()}
        assert users["guard"]["role"] == "operator" and users["guard"]["cameras"] == [CAMERA]
        screenshot(page, "admin")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click('#users tr[data-user="guard"] .remove-user')
        page.wait_for_selector('#users tr[data-user="guard"]', state="detached")
        page.wait_for_selector("#audit td:text-is('user.remove')")
        admin.close()
    finally:
        browsing.close()


def test_viewer_sees_live_and_events_only(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "viewer")
    page, context = browsing.page, browsing.context
    try:
        page.goto("/")
        wait_js(page, "document.querySelector('img.live')?.naturalWidth > 0", 10)
        nav = page.inner_text("header nav")
        assert "Live" in nav and "Events" in nav
        assert "Admin" not in nav and "Recordings" not in nav and "Apps" not in nav
        screenshot(page, "viewer-live")
        # The camera page shows a viewer each app's state and counters.
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector('#app-counters tr[data-app="walkers"][data-state="running"]')
        wait_js(
            page,
            "document.querySelector('#app-counters tr[data-app=\"everyone\"] .counters').textContent.startsWith('current')",
            10,
        )
        assert not browsing.errors, browsing.errors

        refused = page.goto("/recordings")
        assert refused.status == 403
        assert page.goto("/admin").status == 403
        assert page.goto(f"/cameras/{CAMERA}/zones").status == 403
        for path in ("/api/users", f"/api/recordings?camera={CAMERA}", "/api/audit"):
            assert context.request.get(path).status == 403, path
        # Changing the camera is refused by the server too, even with the CSRF token.
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "vigil_csrf")
        put = context.request.put(
            f"/api/cameras/{CAMERA}/config", data={"zones": {}}, headers={"X-CSRF-Token": csrf}
        )
        assert put.status == 403
        assert {e for e in browsing.errors if "(Forbidden)" not in e} == set(), browsing.errors
        browsing.errors.clear()  # the refusals were the point
    finally:
        browsing.close()


def test_camera_page_shows_purpose_and_retention(browser: Any, dashboard: Dashboard):
    """A viewer reads on the camera page why it records, what is masked and the longest
    each kind of its data is kept (the site: recordings at most 3 days, snapshots 1 day, events the default 90)."""
    browsing = dashboard.login(browser, "viewer")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector("#privacy dd[data-privacy=purpose]")

        def shown(key: str) -> str:
            return page.inner_text(f"#privacy dd[data-privacy={key}]")

        assert shown("purpose") == PURPOSE
        assert shown("masks") == "no tracked objects masked"
        assert (shown("recordings"), shown("snapshots")) == ("3 days", "1 day")
        assert (shown("boxes"), shown("events")) == ("3 days", "90 days")
        wait_js(page, "document.querySelector('img.live')?.naturalWidth > 0", 10)
        screenshot(page, "camera-privacy")
    finally:
        browsing.close()


def test_zone_editor_draws_a_static_privacy_mask(browser: Any, dashboard: Dashboard):
    """An admin draws a privacy mask over the frame: saved as the camera's
    ``privacy.static`` (normalised, the rest of its privacy section kept), drawn again
    when the editor reopens, counted on the camera API, and deleted the same way."""
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    corners = [(0.70, 0.02), (0.98, 0.02), (0.98, 0.30), (0.70, 0.30)]  # the parked cars
    try:
        page.goto(f"/cameras/{CAMERA}/zones")
        page.wait_for_selector("#new-mask")
        wait_js(page, "document.getElementById('frame').naturalWidth > 0", 10)
        page.click("#new-mask")
        box = page.locator("#overlay").bounding_box()
        for x, y in corners:
            page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
        assert page.locator("circle.handle").count() == len(corners)
        page.click("#save")
        page.wait_for_selector("#save-status[data-saved]")
        # A privacy change restarts the camera's worker (it reads its policy at start).
        saved = page.get_attribute("#save-status", "data-saved")
        assert saved == "restarted", page.inner_text("#save-status")

        camera = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())["cameras"][0]
        assert camera["privacy"]["purpose"] == PURPOSE
        (mask,) = camera["privacy"]["static"]
        for (x, y), (sx, sy) in zip(corners, mask["points"], strict=True):
            assert abs(sx - x) < 0.01 and abs(sy - y) < 0.01, mask

        # The editor draws on a frame: the restarted worker's first one may take a moment.
        admin = dashboard.api("admin")
        dashboard.wait(
            lambda: admin.get(f"/api/cameras/{CAMERA}/frame.jpg").status_code == 200,
            30,
            "a frame of the restarted camera",
        )
        page.reload()
        page.wait_for_selector("#overlay polygon.mask")
        assert page.locator("ul.shapes li").filter(has_text="privacy mask1").count() == 1
        page.click("text=privacy mask1")
        # Drawn dark over the frame (the served pictures burn it in, for every role).
        fill = page.eval_on_selector("#overlay polygon.mask", "e => getComputedStyle(e).fill")
        assert fill.startswith("rgba(0, 0, 0"), fill
        screenshot(page, "zone-editor-privacy-mask")
        assert admin.get(f"/api/cameras/{CAMERA}").json()["privacy"]["static_masks"] == 1

        page.click("text=Delete privacy mask")
        page.click("#save")
        page.wait_for_selector("#save-status[data-saved]")
        camera = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())["cameras"][0]
        assert "static" not in camera["privacy"] and camera["privacy"]["purpose"] == PURPOSE
        assert admin.get(f"/api/cameras/{CAMERA}").json()["privacy"]["static_masks"] == 0
        admin.close()
    finally:
        browsing.close()
