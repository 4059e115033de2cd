"""What the dashboard's browser tests share: the service under test (`Dashboard`), a signed-in
browser context (`Browsing`), the site they run and the screenshots they save."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service.test_serve_e2e import (
    ServiceLog,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CAMERA = "campus"
STARTUP_S = 60.0  # the real model on a shared 2-core machine: be patient once
PASSWORDS = {
    "admin": "admin-pass-4821",
    "operator": "operator-pass-4821",
    "viewer": "viewer-pass-4821",
}
#: The camera's stated purpose (its `privacy:` section), shown on the camera page.
PURPOSE = "Counting people on the walkway"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


#: The two screens every page must fit without horizontal scrolling (issue: a 1366 px
#: laptop and a 390 px phone).
SCREENS = {"laptop": (1366, 768), "phone": (390, 844)}


def screenshots_on_screens(page: Any, name: str) -> dict[str, int]:
    """Screenshot the page as it is on each of `SCREENS` (saved as `<name>-<screen>.png`)
    and return, per screen, how many pixels the page is wider than the screen (0 when it
    fits). The viewport is restored afterwards."""
    restore = page.viewport_size
    overflow: dict[str, int] = {}
    for screen, (width, height) in SCREENS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # let layout and charts settle at the new width
        overflow[screen] = page.evaluate(
            "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
        )
        screenshot(page, f"{name}-{screen}")
    if restore:
        page.set_viewport_size(restore)
    return overflow


@dataclass
class Dashboard:
    """A running `vigil serve` with one user per role."""

    url: str
    work: Path
    log: ServiceLog
    process: subprocess.Popen[bytes]

    def api(self, role: str) -> httpx.Client:
        """An HTTP client logged in as the role's user."""
        client = httpx.Client(base_url=self.url, timeout=20.0)
        response = client.post(
            "/api/auth/login", json={"username": role, "password": PASSWORDS[role]}
        )
        response.raise_for_status()
        return client

    def wait(self, check: Any, timeout: float, what: str) -> Any:
        return wait_for(check, timeout, what, log=self.log)

    def browse(self, browser: Any) -> Browsing:
        """A new browser context (no cookies yet) and a page in it."""
        context = browser.new_context(base_url=self.url, viewport={"width": 1400, "height": 900})
        browsing = Browsing(context, context.new_page())
        browsing.page.on("pageerror", lambda error: browsing.errors.append(str(error)))
        browsing.page.on(
            "console",
            lambda message: message.type == "error" and browsing.errors.append(message.text),
        )
        return browsing

    def login(self, browser: Any, role: str) -> Browsing:
        """`browse`, signed in as the role's user (through the API: the login form itself
        is tested once)."""
        browsing = self.browse(browser)
        response = browsing.context.request.post(
            "/api/auth/login", data={"username": role, "password": PASSWORDS[role]}
        )
        assert response.ok, response.text()
        return browsing


@dataclass
class Browsing:
    """A browser context and its page; `close` fails the test if a script threw or logged an
    error (a failed request, a Content-Security-Policy violation, a page that did not render)."""

    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)  # script errors, console errors

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"script errors in the dashboard: {self.errors}"


def site_yaml(clip: Path) -> str:
    return textwrap.dedent(
        f"""\
        cameras:
          - id: {CAMERA}
            url: {clip}
            loop: true
            detect_fps: 5
            record: {{mode: continuous, segment_seconds: 2, pre_roll: 1, post_roll: 1}}
            lines:
              walkway_count: {{start: [0.45, 0.62], end: [0.45, 0.25]}}
            privacy:
              purpose: {PURPOSE}
              retention: {{recordings_days: 3, snapshots_days: 1}}
            apps:
              - {{type: line_crossing, name: walkers, settings: {{line: walkway_count}}}}
              - {{type: occupancy, name: everyone, settings: {{report_interval: 2}}}}
        storage: {{directory: data}}
        server: {{host: 127.0.0.1, port: 0}}
        """
    )


def add_admin(work: Path, models: Path) -> None:
    """The first account, made with the CLI as an installer does (`vigil users add`)."""
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "users", "add", "admin", "--admin",
         "--password-stdin", "-c", "site.yaml"],
        input=PASSWORDS["admin"] + "\n", capture_output=True, text=True, cwd=work, timeout=60,
        env={**os.environ, "VIGIL_MODELS": str(models), "HOME": str(work)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@contextmanager
def serving(work: Path, site_text: str, models: Path) -> Iterator[Dashboard]:
    """`vigil serve` of `site_text` in `work`, with its admin made by the CLI, an operator
    and a viewer, once its camera is online."""
    (work / "site.yaml").write_text(site_text)
    add_admin(work, models)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, models)
    try:
        board = Dashboard(printed_url(process, stdout, log), work, log, process)
        admin = board.api("admin")
        csrf = {"X-CSRF-Token": admin.cookies["vigil_csrf"]}
        for role in ("operator", "viewer"):
            body = {"username": role, "password": PASSWORDS[role], "role": role}
            admin.post("/api/users", json=body, headers=csrf).raise_for_status()
        board.wait(
            lambda: admin.get(f"/api/cameras/{CAMERA}").json()["state"] == "online",
            STARTUP_S,
            "the camera online",
        )
        admin.close()
        yield board
    finally:
        stop_process(process)
