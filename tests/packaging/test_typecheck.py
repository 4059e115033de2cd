"""The package type-checks: `mypy` with pyproject.toml's [tool.mypy] finds no error in src/vigil.

Vigil ships `py.typed`, so its annotations are a promise to every app and integration that
imports it; this test keeps the promise in the suite (and so in CI). The configuration checks
every function body (`check_untyped_defs`) and holds the public app SDK to mypy's strict flags.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_mypy_config_checks_the_package_and_the_sdk_strictly():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["files"] == ["src/vigil"]
    assert config["check_untyped_defs"] and config["warn_unused_ignores"]
    strict = [o for o in config["overrides"] if o.get("disallow_untyped_defs")]
    assert strict and {"vigil.apps.base", "vigil.apps.manifest"} <= set(strict[0]["module"])


def test_mypy_finds_no_errors():
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-pretty"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
