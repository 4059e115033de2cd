"""The first run in a real browser: no account yet, so /login sends the browser to /setup,
which creates the administrator, signs in and opens the live grid. The app is the real
`create_app` served by uvicorn on 127.0.0.1 (setup is only allowed from this machine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from vigil.api.app import create_app
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import EventStore
from web.dashboard import screenshot


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[str]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    state = ServiceState([CameraInfo.create("gate", "rtsp://127.0.0.1:9/gate")], store,
                         storage=tmp_path / "data")  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    database.close()


def test_first_run_creates_the_admin_and_signs_in(browser: Any, fresh_service: str):
    context = browser.new_context(base_url=fresh_service)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/")
        page.wait_for_url("**/setup")
        page.fill("#username", "chief")
        page.fill("#password", "chief-pass-4821")
        page.fill("#confirm", "chief-pass-482")
        page.click("button[type=submit]")
        assert page.inner_text("#error") == "The passwords differ."
        page.fill("#confirm", "chief-pass-4821")
        screenshot(page, "setup")
        page.click("button[type=submit]")
        page.wait_for_url(f"{fresh_service}/")
        page.wait_for_selector("figure.tile")
        assert "chief" in page.inner_text(".who") and "Admin" in page.inner_text("header nav")
        # Setup is closed now: the page says so and points to the login.
        page.goto("/setup")
        page.wait_for_selector("text=This service is set up already.")
        assert not errors, errors
    finally:
        context.close()
