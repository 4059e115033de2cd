"""``/docs`` works without internet: the page and everything it loads come from this service,
and the vendored Swagger UI is served byte for byte as it came out of its pinned tarball.
In a real browser, with every other site unreachable, the page renders every operation and
asks nothing of any other address, and what it loads is what SHA256SUMS pins."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from accounts import fast_auth
from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.api.web import STATIC_DIR
from vigil.db.database import Database
from vigil.events import EventStore
from web.dashboard import screenshot

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

VENDOR = STATIC_DIR / "vendor"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    state = ServiceState([], store, storage=tmp_path / "data")
    with TestClient(create_app(state, fast_auth(store))) as client:
        yield client
    database.close()


def pinned_sha256() -> dict[str, str]:
    """URL -> sha256 of every vendored file, from the SHA256SUMS that vendor_web.sh writes."""
    sums = {}
    for listing in VENDOR.glob("*/SHA256SUMS"):
        for line in listing.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            sums[f"/static/vendor/{listing.parent.name}/{name}"] = digest
    return sums


def test_every_vendored_library_lists_its_files():
    libraries = {p.name for p in VENDOR.iterdir() if p.is_dir()}
    assert "swagger-ui-dist" in libraries
    assert {p.parent.name for p in VENDOR.glob("*/SHA256SUMS")} == libraries


def test_docs_page_loads_only_local_assets_with_their_pinned_hashes(client: TestClient):
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "/static/vendor/swagger-ui-dist/swagger-ui.css" in urls
    # every <script> has a src (the CSP forbids inline scripts) and nothing comes from elsewhere
    assert len(re.findall(r"<script\b", page.text)) == len(re.findall(r"<script src=", page.text))
    pins = pinned_sha256()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/static/vendor/"):
            assert hashlib.sha256(asset.content).hexdigest() == pins[url], url
    initializer = client.get("/static/js/api-docs.js").text
    assert 'url: "/openapi.json"' in initializer
    assert client.get("/openapi.json").json()["info"]["title"] == "Vigil"


def test_every_vendored_file_is_served_as_pinned(client: TestClient):
    pins = pinned_sha256()
    assert len(pins) >= 10
    for url, digest in pins.items():
        assert hashlib.sha256(client.get(url).content).hexdigest() == digest, url


def test_no_page_loads_from_a_cdn(client: TestClient):
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page: scripts from a CDN
    assert "cdn" not in client.get("/docs").text.lower()


#: The docs are opened under a name that is not this machine's: Swagger UI leaves out some
#: outside requests (its validator badge) for localhost and 127.0.0.1 only.
SITE = "vigil.example"


def test_docs_render_in_a_browser_that_reaches_no_other_site(browser: Any, tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    state = ServiceState([], EventStore(database), storage=tmp_path / "data")
    app = create_app(state, fast_auth(EventStore(database)))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    with served(config) as (_server, _thread, port):
        context = browser.new_context()
        page = context.new_page()
        elsewhere: list[str] = []  # requests for any other site: refused, and a failure
        problems: list[str] = []  # script errors, console errors (a CSP refusal among them)
        loaded: dict[str, bytes] = {}
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))

        def route(request: Any) -> None:
            url = urlsplit(request.request.url)
            if url.hostname != SITE:
                elsewhere.append(request.request.url)
                request.abort()
                return
            response = request.fetch(url=f"http://127.0.0.1:{port}{url.path}?{url.query}")
            loaded[url.path] = response.body()
            request.fulfill(response=response)

        context.route("**/*", route)
        try:
            page.goto(f"http://{SITE}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() >= 20
            page.wait_for_timeout(500)  # anything loaded after the first render
            screenshot(page, "api-docs")
            assert elsewhere == [] and problems == [], (elsewhere, problems)
            pins = pinned_sha256()
            vendored = {path for path in loaded if path.startswith("/static/vendor/")}
            assert {
                "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
                "/static/vendor/swagger-ui-dist/swagger-ui.css",
            } <= vendored
            for path in vendored:
                assert hashlib.sha256(loaded[path]).hexdigest() == pins[path], path
        finally:
            context.close()
    database.close()
