"""A memory cgroup per sandbox, where this machine lets Vigil make one.

``RLIMIT_AS`` bounds what an app maps, not what it stores in memory-backed files: pages of a
tmpfs or a ``memfd_create`` file count against no process. A memory cgroup counts them all
(anonymous memory, tmpfs, memfd, page cache) against the sandbox, and the kernel kills the
sandbox when it exceeds ``memory_mb``.

Each sandbox gets a child of this process's own memory cgroup (cgroup v2, or v1's memory
hierarchy), made when it starts and removed when it ends; its command is wrapped so that
it enters the cgroup before bubblewrap runs (`MemoryCgroup.wrap`), and everything it starts
stays inside. Where no child cgroup can be made (no memory controller, not delegated to
this user, cgroup v2 with processes in our own cgroup), `available` says why: the app then
has the address-space limit, a sized ``/tmp`` and ``/dev/shm``, and ``RLIMIT_FSIZE`` (one
file at most ``memory_mb``) only.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_names = itertools.count()
_NAME = re.compile(r"vigil-sandbox-(\d+)-\d+")


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    version: int  # 1 or 2

    def wrap(self, command: list[str]) -> list[str]:
        """`command`, entering this cgroup first (inherited by all it starts)."""
        enter = 'echo $$ > "$0" && exec "$@"'
        return ["/bin/sh", "-c", enter, str(self.path / "cgroup.procs"), *command]

    def oom_killed(self) -> bool:
        """Whether the kernel killed something in it for exceeding its limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            lines = (self.path / name).read_text().splitlines()
        except OSError:
            return False
        counts = dict(line.split(maxsplit=1) for line in lines if " " in line)
        return int(counts.get("oom_kill", "0")) > 0

    def remove(self, wait_s: float = 0.0) -> bool:
        """Remove it once its processes are gone (waiting up to `wait_s` for a killed one
        to finish exiting); False while it still holds some."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.path.rmdir()
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
            else:
                return True


@functools.cache
def _parent() -> tuple[Path, int] | str:
    """Where sandbox cgroups go (directory, version), or why nowhere; the empty cgroups
    a killed Vigil process left there are removed."""
    found = _find_parent()
    if not isinstance(found, str):
        for stale in found[0].glob("vigil-sandbox-*"):
            match = _NAME.fullmatch(stale.name)
            if match and not Path(f"/proc/{match[1]}").exists():
                MemoryCgroup(stale, found[1]).remove()
    return found


def _find_parent() -> tuple[Path, int] | str:
    try:
        entries = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError as exc:
        return f"cannot read /proc/self/cgroup: {exc}"
    for entry in entries:
        _, controllers, path = entry.split(":", 2)
        if "memory" in controllers.split(","):  # v1 memory hierarchy
            base = ROOT / "memory"
            directory = base / path.lstrip("/")
            return (directory if directory.is_dir() else base, 1)
    for entry in entries:
        if entry.startswith("0::"):
            directory = ROOT / entry[3:].lstrip("/")
            try:
                enabled = (directory / "cgroup.subtree_control").read_text().split()
                if "memory" not in enabled:
                    (directory / "cgroup.subtree_control").write_text("+memory")
            except OSError as exc:
                return f"cannot enable the memory controller in {directory}: {exc.strerror}"
            return (directory, 2)
    return "no memory cgroup controller"


def available() -> str | None:
    """None where sandboxes get memory cgroups; else why not (one line)."""
    parent = _parent()
    return parent if isinstance(parent, str) else None


def create(limit_bytes: int) -> MemoryCgroup:
    """A new cgroup limited to `limit_bytes` of memory, swap excluded; OSError if not."""
    parent = _parent()
    if isinstance(parent, str):
        raise OSError(parent)
    directory, version = parent
    path = directory / f"vigil-sandbox-{os.getpid()}-{next(_names)}"
    path.mkdir()
    group = MemoryCgroup(path, version)
    try:
        if version == 2:
            (path / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(FileNotFoundError):
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            with contextlib.suppress(FileNotFoundError, PermissionError):
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
    except OSError:
        group.remove()
        raise
    return group
