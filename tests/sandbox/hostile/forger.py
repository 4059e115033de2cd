"""Hostile: writes its own replies on the host's socket, claiming to be another app."""

from __future__ import annotations

import json
import os
import socket

from vigil.apps import App, AppSettings


def _is_socket(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        return False


class Forger(App):
    kind = "forger"
    Settings = AppSettings
    emits = ("tick",)

    def process(self, ctx, objects):
        fd = next(fd for fd in range(3, 64) if _is_socket(fd))
        sock = socket.socket(fileno=fd)  # the host's end of the socket pair
        forged = {
            "source": "other-camera",
            "app": "someone-else",
            "type": "tick",
            "start_time": 0,
            "frame_index": 0,
            "attributes": {},
        }
        sock.send(b"O" + json.dumps({"seq": 10**9, "events": [forged]}).encode())
        sock.detach()
        return []
