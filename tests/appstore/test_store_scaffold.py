"""``vigil apps new``: the generated project passes its own tests, builds into a wheel that
publishes and installs as it is. The example app's own tests pass too."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name
from store_helpers import EXAMPLE, REPO, build_wheel

from cli.cli_helpers import assert_one_line_error, invoke_vigil
from vigil.appstore.installed import installed_apps


def run_project_tests(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own tests, as its developer runs them (``PYTHONPATH=src pytest``), with
    the Vigil under test (an inherited PYTHONPATH stays behind the project's)."""
    path = os.pathsep.join(filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_apps_own_tests_pass():
    tests = run_project_tests(EXAMPLE)
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout + tests.stderr


def test_new_app_tests_builds_publishes_and_installs(tmp_path, store):
    project = tmp_path / "proj"
    r = invoke_vigil(
        "apps",
        "new",
        "door_count",
        "--dir",
        project,
        "--vendor",
        "ACME",
        cwd=tmp_path,
        models=tmp_path,
    )
    assert r.returncode == 0 and f"created {project}" in r.stdout, r
    assert sorted(p.name for p in (project / "src" / "door_count").iterdir()) == [
        "__init__.py",
        "app.py",
        "vigil-app.json",
    ]
    tests = run_project_tests(project)
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout + tests.stderr

    wheel = build_wheel(project, tmp_path / "dist")
    assert wheel.name == "vigil_door_count-0.1.0-py3-none-any.whl"
    r = invoke_vigil("store", "publish", wheel, "--key", store.key, cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
    r = invoke_vigil("apps", "install", "door_count", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
    app = installed_apps()["door_count"]
    assert (app.manifest.vendor, app.manifest.events) == ("ACME", ["count"])
    assert (app.site_dir / "door_count" / "vigil-app.json").is_file()


def test_new_refuses_bad_names_and_existing_projects(tmp_path: Path):
    r = invoke_vigil("apps", "new", "Door-Count", cwd=tmp_path, models=tmp_path)
    assert_one_line_error(r, "app id 'Door-Count'", "lower-case")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    r = invoke_vigil(
        "apps", "new", "ok", "--dir", tmp_path / "taken", cwd=tmp_path, models=tmp_path
    )
    assert_one_line_error(r, "taken: already exists and is not empty")


def core_distributions() -> set[str]:
    """What the Quickstart's environment holds: the core lock's packages, and pip."""
    lock = (REPO / "requirements" / "core.lock").read_text(encoding="utf-8")
    pins = {canonicalize_name(line.split("==")[0]) for line in lock.splitlines() if "==" in line}
    return pins | {"pip"}


def test_new_prints_a_wheel_command_the_quickstart_venv_can_run(tmp_path: Path):
    """The printed build command is `python -m build` and needs only what the core install
    has (no network), and run as printed it leaves the wheel where the README says."""
    r = invoke_vigil("apps", "new", "door_count", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
    command = r.stdout.splitlines()[-1].strip()
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "build"], command
    assert canonicalize_name(words[2]) in core_distributions(), command
    done = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=tmp_path,
        env={**os.environ, "PIP_NO_INDEX": "1"},  # offline, as the command promises
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = [p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("door_count/dist/*")]
    assert wheels == ["door_count/dist/vigil_door_count-0.1.0-py3-none-any.whl"]
