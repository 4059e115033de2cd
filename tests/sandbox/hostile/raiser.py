"""Hostile: raises on every frame."""

from __future__ import annotations

from vigil.apps import App, AppSettings


class Raiser(App):
    kind = "raiser"
    Settings = AppSettings

    def process(self, ctx, objects):
        raise RuntimeError(f"broken on frame {ctx.frame_index}")
