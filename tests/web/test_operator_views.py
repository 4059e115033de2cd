"""What the dashboard tells an operator about apps and their events, in a real browser
against a real `vigil serve` of the sample clip: app health markers on the camera and Apps
pages, event types from the apps' manifests, the zone editor's reference markers, and the
object crop of an event that names an object's box.

Where the clip cannot produce the state under test (an app in backoff, a sandbox without a
memory cgroup, an abandoned object) the real API response is fetched and that one field
changed in flight; the API side of those fields is pinned in tests/api/test_app.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from web.dashboard import CAMERA, Dashboard, screenshot

pytestmark = pytest.mark.integration


def rewrite_json(page: Any, pattern: str, change: Any) -> None:
    """Serve `pattern`'s real JSON response with `change(body)` applied."""

    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, json=body)

    page.route(pattern, handle)


def test_camera_and_apps_pages_mark_app_health(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector('#app-counters tr[data-app="walkers"][data-state="running"]')
        assert page.locator("#app-counters [data-marker]").count() == 0  # healthy built-ins

        def unhealthy(apps: list[dict]) -> None:
            by_name = {a["name"]: a for a in apps}
            by_name["walkers"].update(
                state="failing", backoff_s=7.2, errors=3, last_error="process() raised KeyError"
            )
            by_name["everyone"].update(sandboxed=True, memory_cgroup=False, rejected=2)

        rewrite_json(page, f"**/api/cameras/{CAMERA}", lambda body: unhealthy(body["apps"]))
        page.goto(f"/cameras/{CAMERA}")
        walkers = page.wait_for_selector(
            '#app-counters tr[data-app="walkers"][data-state="failing"]'
        )
        assert "failing · retry in 8 s" in walkers.inner_text()
        assert walkers.query_selector('[data-marker="errors"]').inner_text() == "3 errors"
        assert "process() raised KeyError" in walkers.inner_text()
        everyone = page.locator('#app-counters tr[data-app="everyone"]')
        assert (
            everyone.locator('[data-marker="no-memory-cgroup"]').inner_text() == "no memory cgroup"
        )
        assert everyone.locator('[data-marker="rejected"]').inner_text() == "2 rejected"
        # the app table with its markers scrolls inside its column: the page is no wider
        # than the 1400 px window
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        screenshot(page, "camera-app-health")

        rewrite_json(
            page, "**/api/apps", lambda body: unhealthy([i for a in body for i in a["instances"]])
        )
        page.goto("/apps")
        walkers = page.locator(f'details[data-camera="{CAMERA}"][data-instance="walkers"] summary')
        walkers.wait_for()
        assert "failing · retry in 8 s" in walkers.inner_text()
        everyone = page.locator(
            f'details[data-camera="{CAMERA}"][data-instance="everyone"] summary'
        )
        assert everyone.locator('[data-marker="no-memory-cgroup"]').count() == 1
        screenshot(page, "apps-health")
    finally:
        browsing.close()


def test_event_types_come_from_the_apps_manifests(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        page.goto("/events")
        page.wait_for_selector("#event-types option[value='abandoned_object']", state="attached")
        types = page.eval_on_selector_all("#event-types option", "os => os.map(o => o.value)")
        assert {"abandoned_object", "object_removed", "line_crossing", "intrusion"} <= set(types)
        assert types == sorted(set(types))
    finally:
        browsing.close()
    viewer = dashboard.login(browser, "viewer")  # may not read /api/apps: no refused request
    try:
        viewer.page.goto("/events")
        viewer.page.wait_for_selector("#event-results :is(table, p)")
    finally:
        viewer.close()


def test_zone_editor_finds_apps_by_reference_marker(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}/zones")
        page.wait_for_selector("#new-zone")
        schema = {
            "properties": {
                "area": {"type": "string", "x-vigil-ref": "zone"},
                "zone": {"type": "string"},  # a name alone is not a reference
                "gates": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "string", "x-vigil-ref": "line"}},
                        {"type": "null"},
                    ]
                },
                "kinds": {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}], "x-vigil-ref": "class"},
                },
            }
        }
        refs = page.evaluate(
            "async schema => (await import('/static/js/schemaform.js')).references(schema)", schema
        )
        assert refs == {
            "zone": [{"field": "area", "many": False}],
            "line": [{"field": "gates", "many": True}],
            "class": [{"field": "kinds", "many": True}],
        }
        page.click("text=line walkway_count")
        page.wait_for_selector("text=walkers (line_crossing, all)")
        page.click("#new-zone")
        choices = page.eval_on_selector_all("#add-app-type option", "os => os.map(o => o.value)")
        assert {"abandoned_object", "object_removed", "intrusion", "occupancy"} <= set(choices)
        assert "line_crossing" not in choices
        screenshot(page, "zone-editor-references")
    finally:
        browsing.close()


def test_event_with_an_object_box_shows_its_crop(browser: Any, dashboard: Dashboard):
    admin = dashboard.api("admin")
    until = time.time() + 90  # the page shows the same events: none newer than this

    def latest_with_snapshot() -> dict | None:
        page = admin.get("/api/events", params={"camera": CAMERA, "until": until, "limit": 25})
        return next((e for e in page.json()["items"] if e["snapshot_url"]), None)

    event = dashboard.wait(latest_with_snapshot, 90, "an event with a snapshot")
    until = int(event["start_time"]) + 2  # the form keeps whole seconds
    admin.close()
    box = [300, 200, 380, 330]  # 80 x 130 pixels of the 768 x 576 frame

    def boxed(body: dict) -> None:
        for item in body["items"]:
            if item["id"] == event["id"]:
                item["type"] = "abandoned_object"
                item["attributes"] = {**item["attributes"], "box": box}

    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        rewrite_json(page, "**/api/events?*", boxed)
        page.goto(f"/events?camera={CAMERA}&until={until}")
        row = f'tr[data-event="{event["id"]}"]'
        page.wait_for_selector(f"{row} canvas.thumb[data-drawn]")
        page.click(f"{row} .open-event")
        crop = page.wait_for_selector("#event-view canvas.object-crop[data-drawn]")
        # The box with 0.6 of its larger side (78 px) around it, scaled to 320 px high.
        size = crop.evaluate("c => [c.width, c.height]")
        assert size == [round(236 * 320 / 286), 320], size
        edge = crop.evaluate(
            "c => Array.from(c.getContext('2d').getImageData(Math.round(78 * 320 / 286), 160, 1, 1).data)"
        )
        assert edge[0] > 200 and edge[1] < 80, edge  # the box's red left edge
        screenshot(page, "event-object-crop")
    finally:
        browsing.close()
