"""The zone editor never surprises, and the settings forms pick names from lists (issue 12,
item 6); the camera page and the editor fit a laptop and a phone (item 7).

In Debian's chromium against a real `vigil serve` of the sample clip (one service for the
module): clicks while drawing add points even over another shape, the point count follows
each click, names are checked in the browser by the server's own rule (its JSON Schema's
pattern, compared with the server's check on every Unicode character), a short line is told
in plain words before anything is sent, and the server's key paths are told in the editor's
words; the apps page's settings forms list the camera's zones and lines and the detector's
classes.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from ruamel.yaml import YAML

from vigil.config.schema import check_name
from web.dashboard import CAMERA, Dashboard, screenshots_on_screens
from web.test_dashboard import wait_js

pytestmark = pytest.mark.integration

#: The walkway_count line of the test site runs at x = 0.45 from y = 0.62 to y = 0.25.
ON_THE_LINE = (0.45, 0.45)
DETECTOR_CLASSES = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
OPTIONS = "select => [...select.options].map(o => o.textContent)"  # shown or not


def open_editor(dashboard: Dashboard, browser: Any) -> Any:
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    page.goto(f"/cameras/{CAMERA}/zones")
    page.wait_for_selector("#new-zone")
    wait_js(page, "document.getElementById('frame').naturalWidth > 0", 10)
    return browsing


def click_frame(page: Any, x: float, y: float) -> None:
    box = page.locator("#overlay").bounding_box()
    page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)


def puts(page: Any) -> list[str]:
    """The PUT requests the page makes from now on (a list that fills as they are sent)."""
    sent: list[str] = []
    page.on("request", lambda request: request.method == "PUT" and sent.append(request.url))
    return sent


def test_drawing_over_a_shape_adds_points_counted_as_clicked(browser: Any, dashboard: Dashboard):
    browsing = open_editor(dashboard, browser)
    page = browsing.page
    try:
        page.click("#new-zone")
        assert page.inner_text("#point-count").startswith("0 points")
        # Every click adds a point to the new zone, the one right on the existing line too.
        for n, (x, y) in enumerate([ON_THE_LINE, (0.30, 0.30), (0.60, 0.30)], start=1):
            click_frame(page, x, y)
            assert page.inner_text("legend") == "Zone zone1"
            assert page.locator("circle.handle").count() == n
            count = page.inner_text("#point-count")
            assert count.startswith(f"{n} point{'s' if n > 1 else ''}"), count
        assert "needs at least 3" not in page.inner_text("#point-count")
        page.click("#finish-shape")
        assert "drawing" not in page.inner_text("#point-count")

        # Not drawing, a click on a shape selects it.
        click_frame(page, 0.45, 0.58)
        assert page.inner_text("legend") == "Line walkway_count"
        assert page.inner_text("#point-count") == "2 points"
        assert page.is_disabled("#add-points")  # a line has its two points

        # Each shape has its own hue; a privacy mask is dark, a line is an arrow.
        page.click("#new-mask")
        for x, y in [(0.05, 0.05), (0.2, 0.05), (0.2, 0.2)]:
            click_frame(page, x, y)
        page.keyboard.press("Enter")  # finishes the shape being drawn
        assert page.locator("#finish-shape").count() == 0
        strokes = page.eval_on_selector_all(
            "#overlay :is(polygon, polyline)", "es => es.map(e => getComputedStyle(e).stroke)"
        )
        assert len(strokes) == 3 and len(set(strokes)) == 3, strokes
        mask_fill = page.eval_on_selector("#overlay polygon.mask", "e => getComputedStyle(e).fill")
        assert mask_fill.startswith("rgba(0, 0, 0"), mask_fill
        assert page.get_attribute("#overlay polyline.line", "marker-end")
        overflow = screenshots_on_screens(page, "zone-editor-drawing")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        browsing.close()


def test_names_and_points_are_refused_in_plain_words(browser: Any, dashboard: Dashboard):
    browsing = open_editor(dashboard, browser)
    page = browsing.page
    sent = puts(page)
    try:
        # A line with one point: told before anything is sent.
        page.click("#new-line")
        click_frame(page, 0.2, 0.2)
        assert page.inner_text("#point-count").startswith("1 point · a line needs 2")
        page.click("#save")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error") == "Line line1: a line needs 2 points (it has 1)."
        assert sent == []

        # A name the server would refuse: told as it is typed, and the shape keeps its name.
        click_frame(page, 0.4, 0.2)
        page.fill("#shape-name", "   ")
        rule = "names are 1 to 64 printable characters, not only spaces"
        assert page.text_content("#name-problem") == f'"   ": {rule}.'
        page.fill("#shape-name", "x" * 65)
        assert rule in page.text_content("#name-problem")
        page.fill("#shape-name", "Gate – north 2")  # spaces and any printable character are fine
        assert page.text_content("#name-problem") == ""
        page.fill("#shape-name", "tab\there")
        page.press("#shape-name", "Tab")
        assert page.inner_text("#error") == f'Line name "tab\\there": {rule}.'
        assert page.input_value("#shape-name") == "line1"
        assert sent == []

        # The server's own refusals (a key path) are told in the editor's words.
        said = page.evaluate(
            """async () => {
              const { plainError } = await import('/static/js/pages/zones.js');
              const csrf = document.cookie.match(/vigil_csrf=([^;]+)/)[1];
              const refusal = async (body) => (await (await fetch('/api/cameras/campus/config', {
                method: 'PUT', body: JSON.stringify(body),
                headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
              })).json()).detail;
              const shapes = [
                { kind: 'line', name: 'gate', points: [[1, 1]] },
                { kind: 'zone', name: 'yard', points: [[0, 0], [1, 1]] },
                { kind: 'mask', name: 'mask1', points: [[0, 0]] },
              ];
              const apps = [{ type: 'occupancy', name: 'count', settings: { zone: 'nowhere' } }];
              const server = [
                await refusal({ lines: { gate: { start: [0.1, 0.1] } } }),
                await refusal({ zones: { yard: { points: [[0, 0], [1, 1]] } } }),
                await refusal({ static_masks: [{ points: [[0, 0]] }] }),
                await refusal({ apps }),
              ];
              return { server, plain: server.map((m) => plainError(m, shapes, apps)) };
            }"""
        )
        assert said["server"][0] == "lines.gate.end: required key is missing", said
        assert said["server"][3].endswith(
            "cameras[0].apps[0]: unknown zone 'nowhere' (known: none defined)"
        ), said
        assert said["plain"] == [
            "Line gate: a line needs 2 points (it has 1).",
            "Zone yard: a zone needs at least 3 points, got 2",
            "Privacy mask mask1: a privacy mask needs at least 3 points, got 1",
            "App count: unknown zone 'nowhere' (known: none defined)",
        ], said
        browsing.errors.clear()  # the three refused PUTs above were the point
    finally:
        browsing.close()


def test_the_browser_checks_names_by_the_servers_rule(browser: Any, dashboard: Dashboard):
    """Every Unicode character, alone as a name: accepted by the editor's check (the pattern
    the server publishes, compiled as an input's `pattern` is) exactly when the server's
    `check_name` accepts it. Characters unassigned in either Unicode version are left out:
    the browser's tables may be newer than the server's."""
    browsing = open_editor(dashboard, browser)
    page = browsing.page
    try:
        browser_accepts = set(
            page.evaluate(
                """async () => {
                  const { nameRule } = await import('/static/js/schemaform.js');
                  const rule = await nameRule();
                  const unassigned = /\\p{Cn}/v;
                  const out = [];
                  for (let c = 0; c < 0x110000; c += 1) {
                    const s = String.fromCodePoint(c);
                    if (!unassigned.test(s) && rule.check(s) === true) out.push(c);
                  }
                  return out;
                }"""
            )
        )
        unassigned = page.evaluate(
            """() => { const out = [], cn = /\\p{Cn}/v;
              for (let c = 0; c < 0x110000; c += 1) if (cn.test(String.fromCodePoint(c))) out.push(c);
              return out; }"""
        )
        skipped = set(unassigned)

        def accepted(c: int) -> bool:
            try:
                check_name(chr(c))
            except ValueError:
                return False
            return True

        server_accepts = {
            c
            for c in range(0x110000)
            if c not in skipped and unicodedata.category(chr(c)) != "Cn" and accepted(c)
        }
        browser_accepts -= {c for c in browser_accepts if unicodedata.category(chr(c)) == "Cn"}
        assert len(server_accepts) > 100_000
        assert browser_accepts == server_accepts, sorted(browser_accepts ^ server_accepts)[:20]
    finally:
        browsing.close()


def test_settings_forms_pick_zones_lines_and_classes(browser: Any, dashboard: Dashboard):
    admin = dashboard.api("admin")
    csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
    config = admin.get(f"/api/cameras/{CAMERA}/config").json()
    config["zones"]["bench"] = {"points": [[0.1, 0.5], [0.3, 0.5], [0.3, 0.9]]}
    admin.put(f"/api/cameras/{CAMERA}/config", json=config, headers=csrf).raise_for_status()
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        # The zone editor's "Add an app" picks the classes the detector finds.
        page.goto(f"/cameras/{CAMERA}/zones")
        page.wait_for_selector("#new-zone")
        page.click("text=zone bench")
        options = page.eval_on_selector_all("#add-app-classes option", "os => os.map(o => o.value)")
        assert options == DETECTOR_CLASSES

        page.goto("/apps")
        occupancy = page.locator('section[data-app="occupancy"]')
        occupancy.locator("summary", has_text="Add to a camera").click()
        form = occupancy.locator('form[data-instance=""]')
        zone = form.locator("select[data-ref=zone]")
        zone.locator("option", has_text="bench").wait_for(state="attached")
        assert zone.evaluate(OPTIONS) == ["(none)", "bench"]
        classes = form.locator("select[data-ref=class]")
        assert classes.evaluate(OPTIONS) == DETECTOR_CLASSES
        # none selected: the app's default (people)
        assert classes.evaluate("s => s.selectedOptions.length") == 0
        crossing = page.locator('section[data-app="line_crossing"] form[data-instance=""]')
        line = crossing.locator("select[data-ref=line]")
        line.locator("option", has_text="walkway_count").wait_for(state="attached")
        assert line.evaluate(OPTIONS) == ["walkway_count"]

        zone.select_option(label="bench")
        classes.select_option(label=["person", "bicycle"])
        form.get_by_label("Instance name").fill("bench count")
        form.get_by_role("button", name="Add to camera").click()
        wait_js(page, "document.getElementById('apps-status').textContent.startsWith('Saved')", 20)
        site = YAML(typ="safe").load((dashboard.work / "site.yaml").read_text())
        apps = {a["name"]: a for a in site["cameras"][0]["apps"]}
        assert apps["bench count"]["settings"] == {
            "zone": "bench",
            "classes": ["person", "bicycle"],
        }
        overflow = screenshots_on_screens(page, "apps-pickers")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        admin.delete(f"/api/cameras/{CAMERA}/apps/bench count", headers=csrf)
        admin.close()
        browsing.close()


def test_camera_page_and_editor_fit_a_laptop_and_a_phone(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "admin")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector('#app-counters tr[data-app="walkers"]')
        watching = '#app-counters tr[data-app="walkers"] td[data-label="Watching"]'
        assert page.inner_text(watching) == "line walkway_count"
        overflow = screenshots_on_screens(page, "camera")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
        # On a phone the shell keeps to two rows: the brand and the user, then the pages.
        page.set_viewport_size({"width": 390, "height": 844})
        brand, user = (page.locator(s).bounding_box() for s in (".brand", "#logout"))
        assert abs(brand["y"] - user["y"]) < brand["height"], (brand, user)
        assert page.locator("header.topbar").bounding_box()["height"] < 130
        # Nothing of the apps table is cut off: every column lies inside the window.
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 800})
            right = page.eval_on_selector("#app-counters", "t => t.getBoundingClientRect().right")
            scroller = page.eval_on_selector(
                "#app-counters", "t => t.parentElement.scrollWidth - t.parentElement.clientWidth"
            )
            assert right <= width and scroller == 0, (width, right, scroller)

        page.goto(f"/cameras/{CAMERA}/zones")
        page.wait_for_selector("#new-zone")
        wait_js(page, "document.getElementById('frame').naturalWidth > 0", 10)
        page.click("text=line walkway_count")
        overflow = screenshots_on_screens(page, "zone-editor")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        browsing.close()


def test_a_viewer_is_not_told_a_wrong_watched_area(browser: Any, dashboard: Dashboard):
    """Viewers do not see apps' settings: the camera page leaves what an app watches blank
    rather than saying "whole frame"."""
    browsing = dashboard.login(browser, "viewer")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector('#app-counters tr[data-app="walkers"]')
        watching = '#app-counters tr[data-app="walkers"] td[data-label="Watching"]'
        assert page.inner_text(watching) == ""
    finally:
        browsing.close()
