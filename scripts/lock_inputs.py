"""What the lock files are compiled from, and the digest that ties each lock to it.

    python scripts/lock_inputs.py requirements core|test   # the requirement lines to lock
    python scripts/lock_inputs.py digest                   # the digest written into the locks

`scripts/lock.sh` writes the digest into the header of requirements/*.lock; the tests compare
it with the digest of today's pyproject.toml and requirements/*.in, so a dependency changed
without re-locking fails the suite with the command to run.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements"
LOCKS = {"core": REQUIREMENTS / "core.lock", "test": REQUIREMENTS / "test.lock"}
DIGEST_PREFIX = "# inputs-sha256: "


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    text = path.read_text(encoding="utf-8")
    return [s for line in text.splitlines() if (s := line.split("#", 1)[0].strip())]


def requirements(lock: str) -> list[str]:
    """The top-level requirements of one lock: build backend and core deps, plus tests."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*pyproject["build-system"]["requires"], *pyproject["project"]["dependencies"]]
    if lock == "test":
        wanted += pyproject["project"]["optional-dependencies"]["test"]
        wanted += requirement_lines(REQUIREMENTS / "eval.in")
    return wanted


def digest() -> str:
    """sha256 over everything that decides the locks' contents (not comments or layout)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    inputs = {
        "requires-python": pyproject["project"]["requires-python"],
        "core": requirements("core"),
        "test": requirements("test"),
        "overrides": requirement_lines(REQUIREMENTS / "overrides.txt"),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def locked_digest(lock: str) -> str | None:
    """The digest recorded in a lock file's header (None: no such line)."""
    for line in LOCKS[lock].read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX) :].strip()
    return None


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["requirements", ("core" | "test") as name]:
            print("\n".join(requirements(name)))
        case ["digest"]:
            print(digest())
        case _:
            sys.exit("usage: lock_inputs.py requirements core|test | digest")
