"""Building app wheels for the store tests from the example app (examples/apps/queue_length),
varied where a test needs it (version, SDK requirement, dependencies)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "apps" / "queue_length"
MANIFEST = Path("src") / "queue_length" / "vigil-app.json"


def build_wheel(project: Path, out_dir: Path) -> Path:
    """``python -m build --wheel`` of `project` (offline: the build backend comes from this
    environment); the wheel's path."""
    before = set(out_dir.glob("*.whl")) if out_dir.exists() else set()
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir)],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = set(out_dir.glob("*.whl")) - before
    return wheel


def example_wheel(
    work: Path,
    out_dir: Path,
    *,
    version: str = "1.0.0",
    sdk: str | None = None,
    dependencies: list[str] | None = None,
    manifest_changes: dict[str, object] | None = None,
) -> Path:
    """The example app built as `version`, optionally needing another `sdk`, declaring other
    `dependencies` or other manifest fields (`manifest_changes`: what it receives, say) — a
    copy of the project under `work` is modified, never the example."""
    project = work / f"queue_length-{version}-{len(list(work.glob('*')))}"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pyproject = project / "pyproject.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    if dependencies is not None:
        text = re.sub(
            r"(?m)^dependencies = .*$", f"dependencies = {json.dumps(dependencies)}", text
        )
    pyproject.write_text(text)
    manifest = json.loads((project / MANIFEST).read_text())
    manifest["version"] = version
    if sdk is not None:
        manifest["sdk"] = sdk
    manifest.update(manifest_changes or {})
    (project / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return build_wheel(project, out_dir)


def library_wheel(work: Path, out_dir: Path, name: str, version: str, code: str) -> Path:
    """A plain (non-app) pure-Python distribution `name` with one module `name`."""
    project = work / f"{name}-{version}-{len(list(work.glob('*')))}"
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(code)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f'[tool.setuptools]\npackages = ["{name}"]\n'
    )
    return build_wheel(project, out_dir)
