"""The camera page's "Lift masks" control, in a real browser against a real `vigil serve`
whose camera masks people for viewers and operators: a viewer is told people are masked
and has no control; an operator given the ``unmask`` permission lifts the masks with a
reason, sees the banner and the unmasked live stream (audited), and ends the lift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.test_serve_e2e import printed_url, start_service, stop_process
from web.conftest import STARTUP_S
from web.dashboard import CAMERA, PASSWORDS, Dashboard, add_admin, screenshot, site_yaml
from web.test_dashboard import wait_js

pytestmark = pytest.mark.integration
POLICY = "    privacy: {mask: [person], for: [viewer, operator], lift_minutes: 10}\n"


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[Dashboard]:
    work = tmp_path_factory.mktemp("privacy-dashboard")
    text = site_yaml(camera_clip_h264).replace("    apps:\n", POLICY + "    apps:\n", 1)
    assert POLICY in text
    (work / "site.yaml").write_text(text)
    models = shared_model.parent
    add_admin(work, models)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, models)
    try:
        board = Dashboard(printed_url(process, stdout, log), work, log, process)
        admin = board.api("admin")
        csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
        for role in ("operator", "viewer"):
            body = {"username": role, "password": PASSWORDS[role], "role": role}
            admin.post("/api/users", json=body, headers=csrf).raise_for_status()
        admin.patch(
            "/api/users/operator", json={"unmask": [CAMERA]}, headers=csrf
        ).raise_for_status()
        board.wait(
            lambda: admin.get(f"/api/cameras/{CAMERA}").json()["state"] == "online",
            STARTUP_S,
            "the camera online",
        )
        admin.close()
        yield board
    finally:
        stop_process(process)


def close(browsing: Any) -> None:
    """`Browsing.close`, less the masked live view's 503: this branch serves no masked
    live JPEG yet (the worker's, WP-P1); remove this filter once they are merged."""
    browsing.errors[:] = [e for e in browsing.errors if "status of 503" not in e]
    browsing.close()


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
    finally:
        close(browsing)


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
        close(browsing)
