"""Hostile unless its manifest declares network: connects to a TCP port on 127.0.0.1."""

from __future__ import annotations

import socket

from vigil.apps import App, AppSettings


class Settings(AppSettings):
    port: int


class Netcat(App):
    kind = "netcat"
    Settings = Settings
    emits = ("probe",)

    def process(self, ctx, objects):
        if ctx.frame_index != 0:
            return []
        try:
            with socket.create_connection(("127.0.0.1", self.settings.port), timeout=1) as conn:
                conn.sendall(b"exfiltrated")
            outcome = {"connected": True}
        except OSError as exc:
            outcome = {"connected": False, "error": type(exc).__name__}
        return [self.event(ctx, "probe", attributes=outcome)]
