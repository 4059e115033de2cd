"""The store page, one flow from opening it to an app running on a camera (issue 12's target:
one page, no restart, no CLI): a real catalog signed by a vendor key the site trusts, a real
`vigil serve` of the sample clip; the admin opens /store, reads the permissions screen,
installs (a background job with progress), enables the app on the camera with its settings
form, and sees it running there with its first events; then a newer version is published and
the upgrade from the same page swaps the running version — the camera's worker never restarts.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appstore.store_helpers import example_wheel
from vigil.appstore.keys import generate_keypair, trust_key
from vigil.appstore.publish import publish
from web.dashboard import CAMERA, Dashboard, screenshots_on_screens, serving

FLOW_TIMEOUT_MS = 120_000  # an install runs pip; a first event waits for detections


def store_site(clip: Path, catalog: Path) -> str:
    return textwrap.dedent(
        f"""\
        cameras:
          - id: {CAMERA}
            url: {clip}
            loop: true
            detect_fps: 5
            record: {{mode: "off"}}
            zones:
              walkway: {{points: [[0, 0], [1, 0], [1, 1], [0, 1]]}}
        storage: {{directory: data}}
        server: {{host: 127.0.0.1, port: 0}}
        store: {{catalogs: [{catalog}]}}
        """
    )


@dataclass(frozen=True)
class StoreSite:
    board: Dashboard
    catalog: Path
    key: Path  # the vendor's signing key
    newer: Path  # the example app's wheel 1.1.0 (emitting one more event type), published later
    altered: Path  # its wheel 1.2.0, published, then altered in the catalog


@pytest.fixture(scope="module")
def store_site_running(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[StoreSite]:
    """The service with a catalog listing the example app 1.0.0, signed by a key its
    operator trusts (in the service's HOME, where `vigil store trust` puts it)."""
    work = tmp_path_factory.mktemp("store-page")
    catalog = work / "catalog"
    key, pub = generate_keypair(work / "vendor", "acme")
    publish(example_wheel(work / "build", work / "wheels"), str(catalog), key)
    events = {"events": ["queue_length", "long_wait", "crowd"]}  # one more event type
    newer = example_wheel(
        work / "build", work / "wheels-1.1", version="1.1.0", manifest_changes=events
    )
    altered = example_wheel(work / "build", work / "wheels-1.2", version="1.2.0")
    trust_key(pub, work / ".config" / "vigil" / "trusted-keys")
    with serving(work, store_site(camera_clip_h264, catalog), shared_model.parent) as board:
        yield StoreSite(board, catalog, key, newer, altered)


def fits(page: Any, name: str) -> None:
    assert screenshots_on_screens(page, name) == {"laptop": 0, "phone": 0}, name


def set_field(page: Any, selector: str, value: str) -> None:
    """Type into a settings input, or choose from it where the form offers a list."""
    field = page.locator(selector)
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def test_from_the_store_page_to_the_app_running_on_a_camera(
    store_site_running: StoreSite, browser: Any
) -> None:
    store_board = store_site_running.board
    worker = store_board.log.worker_pids(CAMERA)
    browsing = store_board.login(browser, "admin")
    page = browsing.page
    opened = time.monotonic()
    page.goto("/store")

    card = page.locator(".store-app[data-app=queue_length]")
    card.locator("[data-action=install]").wait_for()
    assert "Queue length" in card.inner_text() and "Example Vendor" in card.inner_text()
    assert card.locator("[data-signature=verified]").count() == 1
    assert "Tracks only" in card.inner_text() and "No network" in card.inner_text()
    fits(page, "store")

    card.locator("[data-action=install]").click()
    permissions = page.locator("#store-permissions")
    assert "only the tracked objects" in permissions.locator("[data-permission=data]").inner_text()
    assert "no network access" in permissions.locator("[data-permission=network]").inner_text()
    events = permissions.locator("[data-permission=events]").inner_text()
    assert "queue_length, long_wait" in events
    signature = permissions.locator("[data-permission=signature]").inner_text()
    assert "signature verified" in signature and "pins this key as its publisher" in signature
    fits(page, "store-permissions")

    page.click("#store-confirm")
    page.locator("#store-progress").wait_for()
    page.locator("#store-enable").wait_for(timeout=FLOW_TIMEOUT_MS)  # installed
    installed_s = time.monotonic() - opened
    assert "Installed queue_length 1.0.0" in page.inner_text("#store-status")
    assert page.is_checked(f"input[name=store-camera][value={CAMERA}]")  # the only camera
    set_field(page, "#store-settings-zone", "walkway")
    set_field(page, "#store-settings-report_interval", "1")
    fits(page, "store-enable")

    page.click("#store-enable button[type=submit]")
    row = page.locator(f"#store-running li[data-camera={CAMERA}]")
    row.locator(".badge.state.ok").wait_for(timeout=FLOW_TIMEOUT_MS)  # running
    running_s = time.monotonic() - opened
    row.locator("ul.events li").first.wait_for(timeout=FLOW_TIMEOUT_MS)
    first_event_s = time.monotonic() - opened
    assert "queue_length" in row.inner_text() and "running" in row.inner_text()
    assert f"runs on {CAMERA}" in page.inner_text("#store-installed li[data-app=queue_length]")
    fits(page, "store-running")

    # the service ran it without a restart: the camera's one worker, the app in its sandbox
    assert store_board.log.worker_pids(CAMERA) == worker
    admin = store_board.api("admin")
    apps = {a["id"]: a for a in admin.get("/api/apps").json()}
    (run,) = apps["queue_length"]["instances"]
    assert (run["camera"], run["state"], run["version"]) == (CAMERA, "running", "1.0.0")
    (installed,) = admin.get("/api/store").json()["installed"]
    assert installed["cameras"] == [CAMERA]

    # a newer version is published: the same page upgrades the running app
    publish(store_site_running.newer, str(store_site_running.catalog), store_site_running.key)
    page.goto("/store")
    upgrade = card.locator("[data-action=upgrade]")
    assert upgrade.inner_text() == "Upgrade to 1.1.0…"
    started = time.monotonic()
    upgrade.click()
    assert page.inner_text("#store-confirm") == "Upgrade to 1.1.0"
    assert "emits new event types: crowd" in page.inner_text("#store-changes")  # asked again
    fits(page, "store-upgrade-permissions")
    page.click("#store-confirm")
    row = page.locator(f"#store-running li[data-camera={CAMERA}][data-instance=queue_length]")
    row.locator("[data-version='1.1.0']").wait_for(timeout=FLOW_TIMEOUT_MS)
    upgraded_s = time.monotonic() - started
    assert "(was 1.0.0)" in page.inner_text("#store-status")
    fits(page, "store-upgraded")
    assert store_board.log.worker_pids(CAMERA) == worker
    apps = {a["id"]: a for a in admin.get("/api/apps").json()}
    assert apps["queue_length"]["version"] == "1.1.0"

    # a release altered after signing: the install job fails, saying why in one line
    _, release = publish(
        store_site_running.altered, str(store_site_running.catalog), store_site_running.key
    )
    wheel = store_site_running.catalog / release.wheel
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    page.goto("/store")
    card.locator("[data-action=upgrade]").click()
    page.click("#store-confirm")
    failure = page.locator("#store-failure")
    failure.wait_for(timeout=FLOW_TIMEOUT_MS)
    reason = failure.inner_text()
    assert reason.startswith("Not installed: catalog ") and "\n" not in reason, reason
    assert "does not match the index" in reason and "refusing it" in reason, reason
    fits(page, "store-failed")
    apps = {a["id"]: a for a in admin.get("/api/apps").json()}
    assert apps["queue_length"]["version"] == "1.1.0"  # still running the verified version
    admin.close()
    browsing.close()

    # operators browse the catalog; installing, upgrading and removing are for admins
    browsing = store_board.login(browser, "operator")
    browsing.page.goto("/store")
    card = browsing.page.locator(".store-app[data-app=queue_length]")
    card.locator("[data-signature=verified]").wait_for()
    assert card.locator("[data-action]").count() == 0
    browsing.close()
    print(
        f"\nstore page opened -> installed {installed_s:.1f} s, -> app running on the camera "
        f"{running_s:.1f} s, -> its first event shown {first_event_s:.1f} s; "
        f"upgrade clicked -> new version running {upgraded_s:.1f} s"
    )
