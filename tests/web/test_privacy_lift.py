"""The camera page's "Lift masks" control, in a real browser against a real `vigil serve`
whose camera masks people for viewers and operators: a viewer is told people are masked
and has no control; an operator given the ``unmask`` permission lifts the masks with a
reason, sees the banner and the unmasked live stream (audited), and ends the lift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web.dashboard import CAMERA, Dashboard, screenshot, serving, site_yaml
from web.test_dashboard import wait_js

pytestmark = pytest.mark.integration
# Added to the shared site's `privacy:` section (its purpose and retention).
POLICY = "      mask: [person]\n      for: [viewer, operator]\n      lift_minutes: 10\n"


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[Dashboard]:
    """The service of the other dashboard tests, its camera under a privacy policy, and
    the operator given the unmask permission on it."""
    text = site_yaml(camera_clip_h264).replace("    privacy:\n", "    privacy:\n" + POLICY, 1)
    assert POLICY in text
    work = tmp_path_factory.mktemp("privacy-dashboard")
    with serving(work, text, shared_model.parent) as board:
        admin = board.api("admin")
        csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
        grant = admin.patch("/api/users/operator", json={"unmask": [CAMERA]}, headers=csrf)
        grant.raise_for_status()
        admin.close()
        yield board


def live_src(page: Any) -> str:
    return page.get_attribute("img.live", "src") or ""


def test_a_viewer_is_told_people_are_masked_and_cannot_lift(browser: Any, dashboard: Dashboard):
    browsing = dashboard.login(browser, "viewer")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector("#masked-note")
        assert page.locator("#lift-form").count() == 0
        assert "unmasked" not in live_src(page)
        wait_js(page, "document.querySelector('img.live').naturalWidth > 0", 20)
        screenshot(page, "camera-masked-for-a-viewer")
    finally:
        browsing.close()


def test_an_entitled_operator_lifts_the_masks_with_a_reason_and_ends_it(
    browser: Any, dashboard: Dashboard
):
    browsing = dashboard.login(browser, "operator")
    page = browsing.page
    try:
        page.goto(f"/cameras/{CAMERA}")
        page.wait_for_selector("#lift-form")
        page.fill("#lift-reason", "bicycle theft reported at 10:40")
        page.fill("#lift-minutes", "5")
        page.click("#lift-masks")
        banner = page.wait_for_selector("#lift-banner")
        assert "bicycle theft reported at 10:40" in banner.inner_text()
        page.wait_for_selector('img.live[src*="unmasked=true"]')
        wait_js(page, "document.querySelector('img.live').naturalWidth > 0", 20)
        screenshot(page, "camera-masks-lifted")
        admin = dashboard.api("admin")
        lifts = admin.get("/api/audit", params={"action": "privacy.lift"}).json()["items"]
        assert lifts[0]["username"] == "operator"
        assert lifts[0]["detail"]["reason"] == "bicycle theft reported at 10:40"
        assert lifts[0]["detail"]["minutes"] == 5
        viewed = admin.get("/api/audit", params={"action": "privacy.view"}).json()["items"]
        assert any(v["detail"]["masked"] is False and v["detail"]["lift"] for v in viewed)
        page.click("#end-lift")
        page.wait_for_selector("#lift-form")
        assert "unmasked" not in live_src(page)
        ended = admin.get("/api/audit", params={"action": "privacy.lift.end"}).json()["items"]
        assert ended[0]["username"] == "operator"
        admin.close()
    finally:
        browsing.close()
