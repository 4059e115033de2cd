"""The site's time zone (`server.time_zone`): every page formats times and reads its
date-time fields in it, whatever the browser's zone. A real `create_app` served by uvicorn,
the site in Asia/Kolkata (UTC+05:30, no daylight saving), the browser in New York."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.errors import ConfigError
from vigil.events import EventStore

SITE = """\
server: {time_zone: Asia/Kolkata}
cameras:
  - {id: gate, url: "rtsp://127.0.0.1:9/gate"}
storage: {directory: %s}
"""


@pytest.fixture
def kolkata_site(tmp_path: Path) -> Iterator[str]:
    site = load_config_text(SITE % (tmp_path / "data"), "site.yaml", model=SiteConfig)
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        events = EventStore(database)
        app = create_app(ServiceState.from_site(site, events))
        app.state.auth.add_user("olga", "olga-pass-4821", "operator")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        with served(config) as (_, _, port):
            yield f"http://127.0.0.1:{port}"


def test_pages_show_and_read_times_in_the_sites_zone(browser: Any, kolkata_site: str) -> None:
    context = browser.new_context(base_url=kolkata_site, timezone_id="America/New_York")
    try:
        response = context.request.post(
            "/api/auth/login", data={"username": "olga", "password": "olga-pass-4821"}
        )
        assert response.ok, response.text()
        page = context.new_page()
        page.goto("/search")
        assert page.get_attribute("body", "data-time-zone") == "Asia/Kolkata"
        shown, field, read, summer = page.evaluate(
            """async () => {
                const m = await import("/static/js/dom.js");
                return [m.fmtTime(0, {timeStyle: "short", hourCycle: "h23"}), m.toLocalInput(0),
                        m.fromLocalInput("1970-01-01T05:30:00"),
                        m.fromLocalInput(m.toLocalInput(1720000000))];
            }"""
        )
        assert shown == "05:30"  # midnight UTC is 05:30 in Kolkata (00:00 or 19:00 elsewhere)
        assert field == "1970-01-01T05:30:00"
        assert read == 0
        assert summer == 1720000000  # round trip (New York would be on daylight time here)
    finally:
        context.close()


def test_an_unknown_zone_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server.time_zone: .*unknown time zone 'Mars/Olympus'"):
        load_config_text(
            "server: {time_zone: Mars/Olympus}\ncameras: [{id: a, url: x.mp4}]\n",
            "site.yaml",
            model=SiteConfig,
        )
