"""Starting the service's child processes, and ending them with the parent.

Every process of `vigil serve` (the detector service, one worker per camera) is started by
`start_process`: the "spawn" method (a fresh interpreter: no threads, locks or sockets of the
supervisor inherited half-held), daemonic (multiprocessing ends it when the supervisor exits
normally), Ctrl-C left to the supervisor. Inside, `watch_parent` makes it stop when the
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
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

_SPAWN = mp.get_context("spawn")
PR_SET_NAME = 15  # prctl(2)


def start_process(target: Callable[..., object], args: tuple[Any, ...], name: str) -> BaseProcess:
    """Start `target(*args)` in a new process; `target` calls `watch_parent` early."""
    process = _SPAWN.Process(target=_child, args=(target, args), name=name, daemon=True)
    process.start()
    return process


def pipe() -> tuple[Any, Any]:
    """A one-way pipe (read end, write end) that can be handed to `start_process`'s child."""
    return _SPAWN.Pipe(duplex=False)


def _child(target: Callable[..., object], args: tuple[Any, ...]) -> None:
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
