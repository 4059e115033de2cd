"""Hostile: returns what the app boundary must refuse, one attack per instance (`attack`).

ids          long-lived events whose ids are paths (``/abs/...``, ``../../...``)
values       events with a 2**70 track id, a NaN start time, a lone surrogate, deep or huge
             attributes, then one good event
counters     ten new counter names on every call
raises       process() raises on every frame, finish() too
big-int      (sandboxed only) a raw reply with a 5000-digit integer
deep-json    (sandboxed only) a raw reply nested 30000 deep
"""

from __future__ import annotations

import os
import socket
from typing import Literal

from vigil.apps import App, AppSettings


class Settings(AppSettings):
    attack: Literal["ids", "values", "counters", "raises", "big-int", "deep-json"]


def _send_raw(payload: bytes) -> None:
    """Write a reply of our own on the host's socket."""
    for fd in range(3, 64):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                break
        except OSError:
            continue
    sock = socket.socket(fileno=fd)
    sock.send(payload)
    sock.detach()


class Vandal(App):
    kind = "vandal"
    Settings = Settings
    emits = ("hit",)

    def __init__(self, name, settings, scene):
        super().__init__(name, settings, scene)
        self.frames = 0

    def process(self, ctx, objects):
        self.frames += 1
        attack = self.settings.attack
        if attack == "ids":
            cycle, step = divmod(self.frames - 1, 3)  # start, update, end; then again
            path = "/tmp/escaped" if cycle % 2 else "../../../../tmp/escaped"
            state = ("start", "update", "end")[step]
            return [
                self.event(ctx, "hit", state, id=path),
                self.event(ctx, "hit", id=f"../other-camera/{self.frames}"),
                self.event(ctx, "hit", "end", id="../never-started"),
            ]
        if attack == "values":
            return [
                self.event(ctx, "hit", track_id=2**70),
                self.event(ctx, "hit", start_time=float("nan")),
                self.event(ctx, "hit", attributes={"name": "\ud800"}),
                self.event(ctx, "hit", zone="a\nb"),
                self.event(ctx, "hit", attributes={"blob": "x" * 20_000}),
                self.event(ctx, "hit", attributes={"ok": True}),
            ]
        if attack == "counters":
            return []
        if attack == "raises":
            # with a terminal escape that would clear an operator's screen
            raise RuntimeError(f"vandal broke on frame {ctx.frame_index}\x1b[2J")
        if attack == "big-int":
            _send_raw(b'O{"seq":' + b"7" * 5000 + b',"events":[]}')
        elif attack == "deep-json":
            _send_raw(b'O{"seq":1,"events":' + b"[" * 30000 + b"]" * 30000 + b"}")
        return []

    def finish(self, ctx):
        if self.settings.attack == "raises":
            raise RuntimeError("vandal broke at the end")
        return []

    def counters(self):
        if self.settings.attack == "counters":
            return {f"visitors {self.frames}-{i}": 1.0 for i in range(10)}
        return {"frames": float(self.frames)}
