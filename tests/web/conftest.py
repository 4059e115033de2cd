"""Fixtures of the dashboard's browser tests: Debian's chromium driven by Playwright, and a
real `vigil serve` of the sample clip with the real model, its accounts made with the CLI.

One service per test module, one browser per session; every test opens its own browser
context (its own cookies: its own login). Screenshots of the pages go to
test-artifacts/screenshots/ at the repository root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web.dashboard import Dashboard, serving, site_yaml

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (Playwright's own browser download is not used)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} absent (Debian package `chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def camera_clip_h264(shared_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample clip as a camera sends it (H.264, a keyframe every 2 s), made once."""
    from vigil.service.demo import camera_clip

    return camera_clip(shared_clip, tmp_path_factory.mktemp("web-clip"))


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, camera_clip_h264: Path
) -> Iterator[Dashboard]:
    work = tmp_path_factory.mktemp("dashboard")
    with serving(work, site_yaml(camera_clip_h264), shared_model.parent) as board:
        yield board
