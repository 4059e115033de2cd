"""The sandbox host: ``python -m vigil.sandbox.host FD`` runs one app instance.

Started by `SandboxedApp` (inside bubblewrap where it works) with one end of a socket pair
as file descriptor FD. It ties its life to its parent, becomes its own unprivileged user
when started as root (``VIGIL_SANDBOX_UID``), reads the init message, applies the kernel
resource limits, and only then imports the app from its site directory, validates the
settings with the app's ``Settings`` model and rebuilds the `Scene`. Then, for every frame
message, it calls ``process()`` and answers with the events, the counters and the error
(one line) if the app raised. A MemoryError ends the host (exit status `EXIT_MEMORY`): the
address-space limit is reached and the app's state cannot be trusted.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import mmap
import os
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

EXIT_MEMORY = 3
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGKILL this process when its parent goes (bubblewrap does so for itself too). A
    parent gone before this took effect closed its end of the socket: the host then reads
    end-of-file instead of its init message and exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _drop_privileges() -> None:
    uid = os.environ.get("VIGIL_SANDBOX_UID")
    if uid and os.getuid() == 0:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))


def main(argv: list[str]) -> int:
    _die_with_parent()
    _drop_privileges()
    sock = socket.socket(fileno=int(argv[1]))
    # Imported after the privilege drop; these are Vigil's own modules, not the app's.
    from vigil.sandbox import protocol
    from vigil.sandbox.limits import apply_kernel_limits

    message = sock.recv(protocol.MAX_MESSAGE)
    if message[:1] != protocol.INIT:
        return 2
    init = json.loads(message[1:])
    apply_kernel_limits(init["limits"])
    try:
        app, pixels = _load(init)
    except MemoryError:
        sock.send(protocol.encode_json(protocol.INIT_ERROR, {"error": "memory limit reached"}))
        return EXIT_MEMORY
    except Exception as exc:
        error = protocol.one_line(f"{type(exc).__name__}: {exc}")
        sock.send(protocol.encode_json(protocol.INIT_ERROR, {"error": error}))
        return 1
    sock.send(protocol.encode_json(protocol.READY, {}))
    return _serve(sock, app, pixels)


def _load(init: dict[str, Any]) -> tuple[Any, tuple[mmap.mmap, int] | None]:
    from vigil.apps.base import App
    from vigil.sandbox import protocol

    site = Path(init["site_dir"])
    if not os.access(site, os.R_OK | os.X_OK):
        raise PermissionError(f"site dir {site} is not readable by the sandbox user {os.getuid()}")
    sys.path.append(str(site))
    module_name, _, class_name = init["entry_point"].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, App)):
        raise TypeError(f"{init['entry_point']} is not a vigil.apps.App subclass")
    settings = cls.Settings.model_validate(init["settings"])
    app = cls(init["name"], settings, protocol.scene_from_json(init["scene"]))
    pixels = None
    if init.get("pixels"):
        fd, slot_bytes = init["pixels"]["fd"], init["pixels"]["slot_bytes"]
        pixels = (mmap.mmap(fd, 0, prot=mmap.PROT_READ), slot_bytes)
    return app, pixels


def _serve(sock: socket.socket, app: Any, pixels: tuple[mmap.mmap, int] | None) -> int:
    import numpy as np

    from vigil.sandbox import protocol

    while True:
        message = sock.recv(protocol.MAX_MESSAGE)
        if not message:
            return 0  # the parent closed the socket
        kind = message[:1]
        if kind == protocol.FRAME:
            seq, ctx, objects, slot = protocol.decode_frame(message)
            if slot >= 0 and pixels is not None:
                shm, slot_bytes = pixels
                image = np.frombuffer(shm, np.uint8, ctx.height * ctx.width * 3, slot * slot_bytes)
                # a copy: the slot is reused for a later frame while the app may keep this one
                ctx = replace(ctx, image=image.reshape(ctx.height, ctx.width, 3).copy())
            call = app.process
            args: tuple[Any, ...] = (ctx, objects)
        elif kind == protocol.END:
            body = json.loads(message[1:])
            seq, call, args = (
                int(body["seq"]),
                app.finish,
                (protocol.context_from_json(body["ctx"]),),
            )
        else:
            return 2
        events, error = [], None
        try:
            events = list(call(*args))
        except MemoryError:
            sock.send(protocol.encode_result(seq, [], None, "memory limit reached (MemoryError)"))
            return EXIT_MEMORY
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        try:
            counters = app.counters()
        except Exception as exc:
            counters, error = None, error or f"counters(): {type(exc).__name__}: {exc}"
        sock.send(protocol.encode_result(seq, events, counters, error))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
