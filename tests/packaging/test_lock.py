"""The lock files the Quickstart and the tests install from: current, hash-pinned, and free of
GUI OpenCV.

`scripts/lock.sh` compiles requirements/core.lock and requirements/test.lock from
pyproject.toml and requirements/*.in and records a digest of those inputs; a dependency
changed without re-locking fails here, naming the command that fixes it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("lock_inputs", REPO / "scripts" / "lock_inputs.py")
lock_inputs = importlib.util.module_from_spec(spec)
sys.modules["lock_inputs"] = lock_inputs
spec.loader.exec_module(lock_inputs)

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# TrackEval's declared dependencies that Vigil never uses; opencv-python is GUI OpenCV (libGL).
NEVER_LOCKED = {"opencv-python", "matplotlib", "pillow"}


def pins(lock: str) -> dict[str, set[str]]:
    """Package name -> pinned versions (one per Python-version branch of the resolution)."""
    found: dict[str, set[str]] = {}
    for line in lock_inputs.LOCKS[lock].read_text(encoding="utf-8").splitlines():
        if m := PIN.match(line):
            found.setdefault(canonicalize_name(m[1]), set()).add(m[2])
    return found


@pytest.mark.parametrize("lock", ["core", "test"])
def test_lock_is_current(lock: str):
    assert lock_inputs.locked_digest(lock) == lock_inputs.digest(), (
        f"requirements/{lock}.lock is older than pyproject.toml or requirements/*.in: "
        "run ./scripts/lock.sh and commit requirements/*.lock"
    )


@pytest.mark.parametrize("lock", ["core", "test"])
def test_every_requirement_is_pinned_in_range(lock: str):
    pinned = pins(lock)
    for line in lock_inputs.requirements(lock):
        req = Requirement(line)
        versions = pinned.get(canonicalize_name(req.name))
        assert versions, f"{req.name} is not in requirements/{lock}.lock"
        assert all(req.specifier.contains(v, prereleases=True) for v in versions), (req, versions)


@pytest.mark.parametrize("lock", ["core", "test"])
def test_every_pin_has_hashes(lock: str):
    text = lock_inputs.LOCKS[lock].read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 3)[3])
    assert entries
    for entry in entries:
        if PIN.match(entry):
            assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_core_install_is_headless_and_without_trackeval():
    core = pins("core")
    assert "opencv-python-headless" in core
    assert not NEVER_LOCKED & core.keys()
    assert "trackeval" not in core
    assert not NEVER_LOCKED & pins("test").keys()


def test_digest_follows_the_dependencies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A changed range in pyproject.toml changes the digest (so a stale lock is caught)."""
    before = lock_inputs.digest()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    changed = tmp_path / "pyproject.toml"
    changed.write_text(pyproject.replace('"click>=8.1"', '"click>=8.2"'), encoding="utf-8")
    monkeypatch.setattr(lock_inputs, "REPO", tmp_path)
    assert lock_inputs.digest() != before


def test_eval_hint_names_requirements_eval_in():
    from vigil.evaluation.mot_eval import TRACKEVAL_REQUIREMENTS

    eval_in = lock_inputs.REQUIREMENTS / "eval.in"
    assert list(TRACKEVAL_REQUIREMENTS) == lock_inputs.requirement_lines(eval_in)
