"""The command line that starts a sandbox host: under bubblewrap when it works here, else bare.

Inside bubblewrap the app sees a filesystem of read-only binds only: ``/usr`` (and the
``/lib*``, ``/bin`` links into it), the Python installation and virtual environment Vigil
runs from, Vigil's own package, and the app's site directory; plus a private ``/proc``,
a minimal ``/dev`` and an empty private ``/tmp`` and ``/dev/shm``, each a tmpfs no larger
than the app's memory limit. No ``/etc``, ``/home``, ``/root``, no other
app, no recordings or database. Every namespace is unshared — the network too, unless the
app's manifest declares ``network: true`` (then it keeps the host's network and gets the
few ``/etc`` files name resolution and TLS need). The environment is cleared. A seccomp
filter (`vigil.sandbox.seccomp`) keeps the app from making namespaces, mounting, tracing,
loading kernel code and the like.

Run as root (a service, or a container), bubblewrap creates the namespaces directly and the
host drops to an unprivileged user of its own (``VIGIL_SANDBOX_UID``) before it reads the
app: the kernel then counts the sandbox's processes against its own ``RLIMIT_NPROC``, and no
file outside the binds' other-readable bits is readable. Run as another user, bubblewrap
uses a user namespace instead (the app keeps the caller's uid outside).

``VIGIL_BWRAP`` overrides the bubblewrap binary (``off`` disables it). When bubblewrap is
missing or cannot create namespaces here, `launcher` says so and store apps do not start
(fail closed) — unless the operator chose otherwise with ``VIGIL_UNSANDBOXED_APPS=allow``:
then they run as plain processes with the resource limits only (``sandboxed: false`` in
their status).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import vigil
from vigil.sandbox import seccomp

HOST_MODULE = "vigil.sandbox.host"
UID_ENV = "VIGIL_SANDBOX_UID"
#: The operator's explicit choice to run store apps without isolation where bubblewrap fails.
UNSANDBOXED_ENV = "VIGIL_UNSANDBOXED_APPS"
# Sandbox users (root mode): one per app instance, so that RLIMIT_NPROC is per instance.
_UID_BASE = 1_000_000
_uid_counter = itertools.count()

# /etc files an app with declared network access needs to resolve names and verify TLS.
_NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
)


@dataclass(frozen=True)
class Launcher:
    """How sandbox hosts are started in this process: ``bwrap`` is None when they run bare,
    ``reason`` says why."""

    bwrap: str | None
    reason: str = ""

    @property
    def sandboxed(self) -> bool:
        return self.bwrap is not None

    @property
    def bare_allowed(self) -> bool:
        """Whether apps may run without isolation here (the operator's explicit choice)."""
        return os.environ.get(UNSANDBOXED_ENV, "").strip().lower() == "allow"


def minimal_env() -> dict[str, str]:
    """The whole environment of a host: no secrets, one BLAS thread (one task per sandbox)."""
    vigil_parent = str(Path(vigil.__file__).resolve().parent.parent)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": vigil_parent,  # Vigil itself, wherever this process imported it from
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@functools.cache
def _interpreter_binds() -> tuple[str, ...]:
    """Read-only directories the interpreter needs: its installation, the virtual
    environment, and Vigil's package (not the rest of the checkout it may sit in)."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent.parent)
    paths.add(Path(vigil.__file__).resolve().parent)
    paths = {p.resolve() for p in paths if p.exists()}
    keep = sorted(p for p in paths if p != Path("/") and not any(q in p.parents for q in paths))
    return tuple(str(p) for p in keep if not str(p).startswith("/usr/") and str(p) != "/usr")


def _root_binds() -> list[str]:
    """/usr and the top-level links or directories (lib, lib64, bin, sbin) that lead into it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _traversable_parents(paths: Sequence[str]) -> list[str]:
    """Create the directories leading to the binds as 0755: bubblewrap would make them 0700,
    which the host cannot traverse once it is no longer root."""
    args: list[str] = []
    made: set[Path] = set()
    for path in paths:
        for parent in reversed(Path(path).parents):
            if parent not in (Path("/"), Path("/tmp")) and parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
    return args


def bwrap_command(
    bwrap: str,
    command: list[str],
    *,
    env: dict[str, str],
    ro_dirs: Sequence[str] = (),
    network: bool = False,
    uid: int | None = None,
    seccomp_fd: int | None = None,
    tmpfs_bytes: int | None = None,
) -> list[str]:
    """`command` wrapped in bubblewrap (see the module docstring for what it sees), with
    the seccomp program read from `seccomp_fd` and tmpfs of `tmpfs_bytes` at most."""
    args = [bwrap, "--die-with-parent", "--new-session", "--clearenv"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    if os.geteuid() == 0:
        # Root: namespaces without a user namespace; the host keeps only what it needs to
        # become `uid`, then has no capability at all.
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not network:
            args += ["--unshare-net"]
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all"] + (["--share-net"] if network else [])
    for key, value in env.items():
        args += ["--setenv", key, value]
    if uid is not None:
        args += ["--setenv", UID_ENV, str(uid)]
    # /tmp first: a bind below /tmp (an app installed there) must land on the private tmpfs
    size = [] if tmpfs_bytes is None else ["--size", str(tmpfs_bytes)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for tmpfs in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", *size, "--tmpfs", tmpfs]
    args += _root_binds()
    binds = [*_interpreter_binds(), *map(str, ro_dirs)]
    args += _traversable_parents([*binds, *(_NETWORK_ETC if network else ())])
    for path in binds:
        args += ["--ro-bind", path, path]
    if network:
        for path in _NETWORK_ETC:
            args += ["--ro-bind-try", path, path]
    args += ["--chdir", "/tmp", "--"]
    return args + command


def host_command(socket_fd: int) -> list[str]:
    return [sys.executable, "-s", "-B", "-m", HOST_MODULE, str(socket_fd)]


def next_sandbox_uid() -> int | None:
    """A fresh unprivileged uid for the next sandbox when running as root, else None."""
    if os.geteuid() != 0:
        return None
    return _UID_BASE + (os.getpid() % 100_000) * 64 + next(_uid_counter) % 64


@functools.cache
def launcher() -> Launcher:
    """Probe bubblewrap once per process with the binds a host gets (a trivial Python run)."""
    configured = os.environ.get("VIGIL_BWRAP")
    if configured is not None and configured.strip().lower() in ("", "off", "0", "no"):
        return Launcher(None, "disabled by VIGIL_BWRAP")
    bwrap = configured or shutil.which("bwrap")
    if not bwrap:
        return Launcher(None, "bubblewrap (bwrap) is not installed")
    try:
        program = seccomp.program_fd()
    except seccomp.SeccompUnavailable as exc:
        return Launcher(None, str(exc))
    probe = bwrap_command(
        bwrap,
        [sys.executable, "-s", "-c", "import numpy, pydantic"],
        env=minimal_env(),
        seccomp_fd=program,
        tmpfs_bytes=64 * 1024 * 1024,
    )
    try:
        done = subprocess.run(
            probe, capture_output=True, text=True, timeout=30, check=False, pass_fds=[program]
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Launcher(None, f"{bwrap} does not run: {exc}")
    finally:
        os.close(program)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return Launcher(None, f"{bwrap} fails here: {lines[-1] if lines else done.returncode}")
    return Launcher(bwrap)
