"""The app SDK type-checks under ``mypy --strict``: an app author's checker sees exact types.

The modules are those of the SDK reference (``scripts/sdk_docs.sh``) but `vigil.events.event`,
which is not strict-clean yet; imports of other modules are followed silently (their own
errors are the project-wide mypy run's business, not the SDK's).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy (the test extra) checks the SDK")

SRC = Path(__file__).resolve().parents[2] / "src"
SDK_FILES = [
    "vigil/apps/__init__.py",
    "vigil/apps/base.py",
    "vigil/apps/manifest.py",
    "vigil/detection/detections.py",
    "vigil/geometry/shapes.py",
]


def test_the_sdk_is_clean_under_mypy_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"),
            *("--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary"),
            *(str(SRC / f) for f in SDK_FILES),
        ],
        cwd=SRC.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
