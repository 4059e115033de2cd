"""Hostile: emits a hundred events per frame (1500 per second at 15 fps)."""

from __future__ import annotations

from vigil.apps import App, AppSettings


class Flooder(App):
    kind = "flooder"
    Settings = AppSettings
    emits = ("spam",)

    def process(self, ctx, objects):
        return [self.event(ctx, "spam", attributes={"i": i}) for i in range(100)]
