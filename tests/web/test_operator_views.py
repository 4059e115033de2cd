"""What the dashboard tells an operator about apps and their events, in a real browser
against a real `vigil serve` of the sample clip: app health markers on the camera and Apps
pages, the review page's filters from what exists, the zone editor's reference markers, and
the object crops the worker cuts for each event.

Where the clip cannot produce the state under test (an app in backoff, a sandbox without a
memory cgroup, an abandoned object) the real API response is fetched and that one field
changed in flight; the API side of those fields is pinned in tests/api/test_app.py.
"""

from __future__ import annotations

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


def test_review_filters_offer_what_exists(browser: Any, dashboard: Dashboard):
    admin = dashboard.api("admin")
    facets = dashboard.wait(
        lambda: (f := admin.get("/api/review/facets").json())["types"] and f,
        90,
        "a review item",
    )
    admin.close()
    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        page.goto("/events")
        page.wait_for_selector("#review-list .review-item")
        types = page.eval_on_selector_all("#f-type option", "os => os.map(o => o.value)")
        assert types[0] == "" and set(facets["types"]) <= set(types[1:])
        assert "occupancy" not in types  # its periodic reports are series, not review items
        apps = page.eval_on_selector_all("#f-app option", "os => os.map(o => o.value)")
        assert "walkers" in apps and "everyone" not in apps
    finally:
        browsing.close()
    viewer = dashboard.login(browser, "viewer")  # no refused request for a viewer either
    try:
        viewer.page.goto("/events")
        viewer.page.wait_for_selector("#review-list :is(.review-item, p)")
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


def test_review_items_show_the_crops_the_worker_cut(browser: Any, dashboard: Dashboard):
    """The worker cuts each event's object out of its snapshot; the review item's strip and
    its opened events show those crops (real pictures, not the whole frame)."""
    admin = dashboard.api("admin")

    def item_with_crops() -> dict | None:
        items = admin.get("/api/review", params={"camera": CAMERA}).json()["items"]
        return next((i for i in items if i["thumbnails"]), None)

    item = dashboard.wait(item_with_crops, 90, "a review item with object crops")
    crop = admin.get(item["thumbnail"] or item["thumbnails"][0])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    admin.close()
    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        page.goto(f"/events?camera={CAMERA}&end={int(item['end']) + 1}")
        row = f'.review-item[data-item="{item["id"]}"]'
        page.wait_for_selector(f"{row} .strip img")
        page.wait_for_function(
            f"""() => [...document.querySelectorAll('{row} .strip img')]
                .every(i => i.complete && i.naturalWidth > 0)"""
        )
        size = page.eval_on_selector(f"{row} .strip img", "i => [i.naturalWidth, i.naturalHeight]")
        assert size[0] < 768 and size[1] < 576, size  # the object, not the whole frame
        page.click(f"{row} .summary")
        page.wait_for_selector(".review-event img.crop")
        screenshot(page, "review-object-crops")
    finally:
        browsing.close()
