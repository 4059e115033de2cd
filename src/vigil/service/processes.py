"""Starting the service's child processes, and ending them with the parent.

Every process of `vigil serve` (the detector service, one worker per camera) is started by
`start_process`, forked by multiprocessing's fork server: a fresh interpreter of its own
(no threads, locks or sockets of the supervisor inherited half-held, as with "spawn") that
has loaded what every worker needs once (`vigil.service.preload`), so that each child shares
those pages instead of importing its own copy: ~35 MB less resident memory per camera
worker, and a worker starts in a fraction of the time. A child gets the supervisor's
environment, stdout and stderr as they are when the child starts (a forked child would
otherwise have the fork server's). Children are daemonic (multiprocessing ends them when the supervisor exits
normally), Ctrl-C left to the supervisor. Inside, `watch_parent` makes a child stop when the
supervisor is gone however it went, SIGKILL included: a thread waits on the parent's
sentinel (a pipe that closes with the parent) and then asks this process to stop as the
supervisor would, with SIGTERM, or calls the child's own callback.

Not PR_SET_PDEATHSIG: it fires when the *thread* that started the child ends, and the
supervisor starts workers from threads that come and go (an API request applying a saved
site file), so a healthy worker would be killed. `stop_processes` is the other end: SIGTERM,
a grace period for segments to be finished, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing import reduction
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

_CONTEXT = mp.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["vigil.service.preload"])
PR_SET_NAME = 15  # prctl(2)


def start_process(target: Callable[..., object], args: tuple[Any, ...], name: str) -> BaseProcess:
    """Start `target(*args)` in a new process; `target` calls `watch_parent` early."""
    process = _CONTEXT.Process(
        target=_child,
        args=(target, args, dict(os.environ), _Outputs()),
        name=name,
        daemon=True,
    )
    process.start()
    return process


def pipe() -> tuple[Any, Any]:
    """A one-way pipe (read end, write end) that can be handed to `start_process`'s child."""
    return _CONTEXT.Pipe(duplex=False)


class _Outputs:
    """This process's stdout and stderr as they are now, for a child to write to: a forked
    child would otherwise write where the fork server's went when it started (in a test,
    an earlier test's captured output). Pickled with the child's arguments, the descriptors
    travel to it alongside (as multiprocessing's pipes do)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Outputs.inherit, tuple(_handed_over(fd) for fd in (1, 2)))

    @staticmethod
    def inherit(*fds: Any) -> None:
        """In the child: make the handed-over descriptors its stdout and stderr."""
        for target, handed in enumerate(fds, start=1):
            if handed is not None:
                fd = handed.detach()
                os.dup2(fd, target)
                os.close(fd)


def _handed_over(fd: int) -> Any:
    try:
        os.fstat(fd)
    except OSError:  # closed (a daemon): the child keeps the fork server's
        return None
    return reduction.DupFd(fd)


def _child(
    target: Callable[..., object], args: tuple[Any, ...], environ: dict[str, str], _: None
) -> None:
    # The supervisor's environment, not the fork server's (see the module's docstring); its
    # outputs were made this process's own while its arguments were unpickled (`_Outputs`).
    os.environ.clear()
    os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    _name_process(mp.current_process().name)
    target(*args)


def _name_process(name: str) -> None:
    """Name this process as ``ps``, ``top`` and the System page show it (Linux: its comm,
    15 bytes at most; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def watch_parent(on_exit: Callable[[], None] | None = None) -> None:
    """In a child of `start_process`: once the parent has ended, call `on_exit()` (by default
    send this process SIGTERM, which its handler turns into an orderly stop)."""
    parent = mp.parent_process()
    if parent is None:
        return
    threading.Thread(
        target=_await_parent, args=(parent.sentinel, on_exit), name="parent", daemon=True
    ).start()


def _await_parent(sentinel: int, on_exit: Callable[[], None] | None) -> None:
    wait([sentinel])
    if on_exit is not None:
        on_exit()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def stop_processes(processes: Iterable[BaseProcess], grace: float) -> list[BaseProcess]:
    """SIGTERM each, wait up to `grace` seconds for all of them, SIGKILL the rest; returns
    those that had to be killed."""
    running = [p for p in processes if p.is_alive()]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + grace
    killed = []
    for process in running:
        process.join(timeout=max(0.1, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(timeout=5.0)
            killed.append(process)
    return killed
