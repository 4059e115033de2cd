"""The login page follows `?next=` only to a page of this site (`safeNext` in login.js, run
by Node.js with the URL parser browsers use)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import vigil

LOGIN_JS = Path(vigil.__file__).parent / "api" / "web" / "static" / "js" / "pages" / "login.js"
NODE = shutil.which("node")
#: Sets the page's location to /login?next=..., imports the page's module, prints safeNext().
HARNESS = """
const [next, module] = process.argv.slice(1);
globalThis.location = new URL("http://127.0.0.1:8971/login?next=" + encodeURIComponent(next));
const { safeNext } = await import(module);
console.log(JSON.stringify(safeNext()));
"""


def safe_next(next_: str) -> str:
    assert NODE is not None
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", HARNESS, next_, LOGIN_JS.as_uri()],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="needs Node.js")
@pytest.mark.parametrize(
    ("next_", "followed"),
    [
        ("/events?camera=cam1#t=5", "/events?camera=cam1#t=5"),
        ("/\t/evil.example", "/"),  # tabs and newlines are dropped: "//evil.example"
        ("/\n/evil.example", "/"),
        ("/\\evil.example", "/"),  # "\" is read as "/"
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("http://127.0.0.1:8971/cameras", "/cameras"),
        ("events", "/events"),
    ],
)
def test_next_stays_on_this_site(next_: str, followed: str) -> None:
    assert safe_next(next_) == followed
