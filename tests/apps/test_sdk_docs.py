"""The app SDK reference (``scripts/sdk_docs.sh``, pdoc): it builds offline from this checkout,
every page stands alone, and the names an app author needs are there with their docstrings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pdoc_doc = pytest.importorskip("pdoc.doc", reason="pdoc (the test extra) builds the reference")

REPO = Path(__file__).resolve().parents[2]
# The SDK's pages and, in each, names an app author looks up (a class's members as Class.name).
KEY_SYMBOLS = {
    "vigil/apps/base.html": [
        "SDK_VERSION",
        "App",
        "App.kind",
        "App.Settings",
        "App.emits",
        "App.needs_pixels",
        "App.process",
        "App.finish",
        "App.counters",
        "App.restorable",
        "App.state_version",
        "App.snapshot",
        "App.restore",
        "MAX_STATE_BYTES",
        "App.select",
        "App.event",
        "AppSettings",
        "FrameContext",
        "FrameContext.pts",
        "FrameContext.image",
        "Scene",
        "Scene.zone",
        "Scene.line",
        "Scene.class_ids",
        "ZoneName",
        "LineName",
        "ClassName",
    ],
    "vigil/apps/manifest.html": ["AppManifest", "AppManifest.sdk", "manifest_for_class"],
    "vigil/detection/detections.html": ["Detections", "Detections.xyxy", "Detections.anchors"],
    "vigil/events/event.html": ["Event"],
    "vigil/geometry/shapes.html": ["Zone", "Zone.contains", "Line", "Line.crossings"],
}
# Modules whose every public member has a docstring (events.event's fields do not, yet).
FULLY_DOCUMENTED = [
    "vigil.apps.base",
    "vigil.apps.manifest",
    "vigil.detection.detections",
    "vigil.geometry.shapes",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdk-docs")
    unreachable = "http://127.0.0.1:9"  # any download attempt fails at once
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "http_proxy": unreachable,
        "https_proxy": unreachable,
        "HTTP_PROXY": unreachable,
        "HTTPS_PROXY": unreachable,
    }
    done = subprocess.run(
        ["bash", str(REPO / "scripts/sdk_docs.sh"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def _member_html(page: str, symbol: str) -> str:
    """The HTML of `symbol`'s entry on `page`: from its anchor to the next member's."""
    start = page.index(f'id="{symbol}"')
    following = re.search(r'<(?:section|div) id="[^"]+"', page[start + 1 :])
    return page[start : start + 1 + following.start()] if following else page[start:]


def test_the_reference_lists_every_sdk_page_and_loads_nothing_remote(reference: Path) -> None:
    index = (reference / "index.html").read_text()
    for page in KEY_SYMBOLS:
        assert (reference / page).is_file(), page
        assert f'href="{page}"' in index, page
        html = (reference / page).read_text()
        remote = re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="(?:https?:)?//[^"]*"', html)
        assert remote == [], f"{page} loads {remote}"


@pytest.mark.parametrize("page", sorted(KEY_SYMBOLS))
def test_key_symbols_are_documented(reference: Path, page: str) -> None:
    html = (reference / page).read_text()
    for symbol in KEY_SYMBOLS[page]:
        assert f'id="{symbol}"' in html, f"{symbol} missing from {page}"
        assert 'class="docstring"' in _member_html(html, symbol), f"{symbol} has no docstring"


def _undocumented(namespace: pdoc_doc.Namespace) -> list[str]:
    missing = []
    for member in namespace.own_members:
        if member.name.startswith("_"):
            continue
        if not member.docstring.strip():
            missing.append(member.qualname)
        if isinstance(member, pdoc_doc.Class):
            missing += _undocumented(member)
    return missing


@pytest.mark.parametrize("module", FULLY_DOCUMENTED)
def test_every_public_name_of_the_sdk_has_a_docstring(module: str) -> None:
    assert _undocumented(pdoc_doc.Module.from_name(module)) == []
