"""Health that explains, the System page, accounts and the live grid, in a real browser.

One real `vigil serve` for the module (the synthetic walker clip, the tiny ONNX model): a
camera that plays (`yard`), one whose file is missing (`ghost`) and one whose RTSP server
refuses the connection (`gate`). Their tiles say why they are down and since when; the
System page shows its checks, process groups and latency chart; an admin lists, uses and
revokes a named API token; a user changes their own password. The live grid of nine
cameras fits a 1366 x 768 laptop without scrolling (the real app over a `ServiceState` of
nine cameras, served by uvicorn: the layout needs no running worker). Every page is saved
at 1366 px and 390 px wide, without horizontal scrolling.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from accounts import fast_auth
from rtsp.harness import free_port
from service.test_serve_e2e import printed_url, start_service, stop_process
from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from web.dashboard import PASSWORDS, Dashboard, add_admin, screenshots_on_screens

REFUSED = f"rtsp://127.0.0.1:{free_port()}/gate"


@pytest.fixture(scope="module")
def board(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: Path, synthetic_clip: Path
) -> Iterator[Dashboard]:
    work = tmp_path_factory.mktemp("health")
    (work / "site.yaml").write_text(
        textwrap.dedent(
            f"""\
            cameras:
              - {{id: yard, url: {synthetic_clip}, loop: true, detect_fps: 2, record: {{mode: 'off'}}}}
              - {{id: ghost, url: {work / "gone.mp4"}, record: {{mode: 'off'}}}}
              - {{id: gate, url: '{REFUSED}', record: {{mode: 'off'}}}}
            detector: {{input_size: [416, 320]}}
            storage: {{directory: data}}
            server: {{host: 127.0.0.1, port: 0}}
            """
        )
    )
    add_admin(work, tiny_models)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, tiny_models)
    try:
        board = Dashboard(printed_url(process, stdout, log), work, log, process)
        admin = board.api("admin")
        csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
        body = {"username": "operator", "password": PASSWORDS["operator"], "role": "operator"}
        admin.post("/api/users", json=body, headers=csrf).raise_for_status()

        def settled() -> bool:
            cameras = {c["id"]: c for c in admin.get("/api/cameras").json()}
            return (
                cameras["yard"]["up"]
                and bool(cameras["ghost"]["reason"])
                and bool(cameras["gate"]["reason"])
            )

        board.wait(settled, 60, "yard online, ghost and gate down with a reason")
        admin.close()
        yield board
    finally:
        stop_process(process)


def test_tiles_say_why_a_camera_is_down_and_since_when(browser: Any, board: Dashboard) -> None:
    browsing = board.login(browser, "operator")
    page = browsing.page
    try:
        page.goto("/")
        ghost = page.locator('p.health[data-camera="ghost"]')
        gate = page.locator('p.health[data-camera="gate"]')
        ghost.wait_for()
        assert "video source not found" in ghost.inner_text() and "gone.mp4" in ghost.inner_text()
        # "offline since 7:18:36 AM (1 min 6 s) · video source not found: ..."
        since = re.match(
            r"offline since .+ \((\d+ min )?\d+ s\) · video source", ghost.inner_text()
        )
        assert since, ghost.inner_text()
        text = gate.inner_text()
        assert text.startswith("reconnecting since ") and text.endswith(
            f"{REFUSED}: connection refused"
        ), text
        assert page.locator('p.health[data-camera="yard"]').is_hidden()

        # A click shows the camera alone on the whole window; Esc goes back to the grid.
        page.wait_for_function(
            "() => document.querySelector('img.live[data-camera=yard]').naturalWidth > 0"
        )
        page.click('figure[data-camera="yard"] button.picture')
        solo = page.locator("figure.tile.solo")
        assert solo.get_attribute("data-camera") == "yard"
        box = solo.bounding_box()
        size = page.viewport_size
        assert box and (box["width"], box["height"]) == (size["width"], size["height"])
        page.keyboard.press("Escape")
        assert page.locator("figure.tile.solo").count() == 0
        page.dblclick('figure[data-camera="gate"] button.picture')  # a double-click too
        assert page.locator("figure.tile.solo").get_attribute("data-camera") == "gate"
        page.click('figure[data-camera="gate"] button.picture')  # and another click leaves
        assert page.locator("figure.tile.solo").count() == 0
        overflow = screenshots_on_screens(page, "live-health")
        assert overflow == {"laptop": 0, "phone": 0}, overflow

        page.goto("/cameras/gate")  # the camera page says it too
        page.wait_for_selector('p.health[data-camera="gate"]:has-text("connection refused")')
    finally:
        browsing.close()


def test_system_page_explains_with_checks_and_process_groups(
    browser: Any, board: Dashboard
) -> None:
    browsing = board.login(browser, "operator")
    page = browsing.page
    try:
        page.goto("/system")
        cameras = page.wait_for_selector('#sys-checks [data-check="cameras"][data-level="warning"]')
        text = cameras.inner_text()
        assert "2 down: ghost, gate" in text and "What to do:" in text, text
        assert "says why it is down" in text
        for check in ("cpu", "memory", "disk", "latency"):
            assert page.locator(f'#sys-checks [data-check="{check}"]').count() == 1
        page.wait_for_selector('#sys-processes tr[data-group="detector"]')
        groups = page.eval_on_selector_all(
            "#sys-processes tbody tr", "rows => rows.map(r => r.children[0].textContent)"
        )
        assert groups[0] == "Service (API, supervisor)" and "Detector" in groups, groups
        assert "Camera yard" in groups and "Camera gate" in groups, groups
        why = page.inner_text('#sys-table tr[data-camera="gate"] td.why')
        assert "connection refused" in why and "since" in why, why
        summary = page.inner_text("#sys-summary")
        assert summary.startswith("Vigil 0.1.0, up ") and "warning" in summary, summary
        assert page.locator("#latency-chart").is_visible()
        assert "free of" in page.inner_text("#sys-disk")
        overflow = screenshots_on_screens(page, "system")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        browsing.close()


def test_admin_lists_uses_and_revokes_one_named_token(browser: Any, board: Dashboard) -> None:
    browsing = board.login(browser, "admin")
    page = browsing.page
    try:
        page.goto("/admin")
        row = page.locator('#users tr[data-user="operator"]')
        row.get_by_role("button", name="API tokens").click()
        page.wait_for_selector("#tokens-title:has-text('API tokens of operator')")
        for name in ("nightly-export", "home-assistant"):
            page.fill("#t-name", name)
            page.get_by_role("button", name="New API token").click()
            page.wait_for_selector(f'#tokens tr[data-token="{name}"]')
        token = page.locator("#token-value").inner_text().strip()  # home-assistant's
        with httpx.Client(base_url=board.url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/api/cameras").status_code == 200
            page.reload()
            page.locator('#users tr[data-user="operator"]').get_by_role(
                "button", name="API tokens"
            ).click()
            used = page.locator('#tokens tr[data-token="home-assistant"] td').nth(2)
            used.wait_for()
            assert used.inner_text() != "never"
            nightly = page.locator('#tokens tr[data-token="nightly-export"] td').nth(2)
            assert nightly.inner_text() == "never"
            page.once("dialog", lambda dialog: dialog.accept())
            page.click('#tokens tr[data-token="home-assistant"] .revoke-token')
            page.wait_for_selector('#tokens tr[data-token="home-assistant"]', state="detached")
            assert c.get("/api/cameras").status_code == 401
        assert page.locator('#tokens tr[data-token="nightly-export"]').count() == 1
        # The audit log says it in words, not JSON.
        page.wait_for_selector("#audit td:text-is('token.revoke')")
        detail = page.locator("#audit tr:has(td:text-is('token.revoke')) td.detail").first
        assert detail.inner_text() == "token: home-assistant"
        assert "{" not in page.inner_text("#audit")
        overflow = screenshots_on_screens(page, "admin")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        browsing.close()


def test_a_user_changes_their_own_password(browser: Any, board: Dashboard) -> None:
    browsing = board.login(browser, "operator")
    page = browsing.page
    new = "operator-new-pass-9931"
    try:
        page.goto("/")
        page.click("#account")
        page.wait_for_selector("#password-form")
        overflow = screenshots_on_screens(page, "account")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
        page.fill("#pw-current", PASSWORDS["operator"])
        page.fill("#pw-new", new)
        page.fill("#pw-repeat", new + "x")
        page.click("text=Change password")
        page.wait_for_selector("#error:has-text('The two new passwords differ.')")
        page.fill("#pw-repeat", new)
        page.click("text=Change password")
        page.wait_for_url("**/login?changed=1")
        with httpx.Client(base_url=board.url) as client:
            old = {"username": "operator", "password": PASSWORDS["operator"]}
            assert client.post("/api/auth/login", json=old).status_code == 401
            fresh = {"username": "operator", "password": new}
            assert client.post("/api/auth/login", json=fresh).status_code == 200
    finally:
        browsing.close()


# --------------------------------------------------------------------------- nine cameras


@pytest.fixture
def nine_cameras(tmp_path: Path) -> Iterator[Dashboard]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    fast_auth(store).add_user("viewer", PASSWORDS["viewer"], "viewer")
    cameras = "".join(
        f"  - {{id: cam{i}, url: 'rtsp://127.0.0.1:9/cam{i}'}}\n" for i in range(1, 10)
    )
    site_file = tmp_path / "site.yaml"
    site_file.write_text(f"cameras:\n{cameras}storage: {{directory: data}}\n")
    state = ServiceState.from_site(load_config(site_file, model=SiteConfig), store)
    app = create_app(state, fast_auth(store))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    try:
        with served(config) as (_, _, port):
            # Only the URL is used: no service process, no log.
            yield Dashboard(f"http://127.0.0.1:{port}", tmp_path, None, None)  # type: ignore[arg-type]
    finally:
        database.close()


def test_nine_cameras_fit_a_laptop_screen(browser: Any, nine_cameras: Dashboard) -> None:
    browsing = nine_cameras.login(browser, "viewer")
    page = browsing.page
    try:
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto("/")
        page.wait_for_selector("figure.tile >> nth=8")
        fits = page.evaluate(
            "() => [document.documentElement.scrollHeight, window.innerHeight,"
            " Math.min(...[...document.querySelectorAll('figure.tile')]"
            ".map(t => t.getBoundingClientRect().width))]"
        )
        height, screen, tile = fits
        print(f"nine tiles on 1366 x 768: page {height} px high, tiles {tile:.0f} px wide")
        assert height <= screen, fits  # no scrolling
        assert tile >= 280, fits  # and the tiles fill it: three columns of at least 280 px
        overflow = screenshots_on_screens(page, "live-nine")
        assert overflow == {"laptop": 0, "phone": 0}, overflow
    finally:
        browsing.close()
