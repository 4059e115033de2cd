"""A well-behaved pixel app: reports the mean of each frame's pixels."""

from __future__ import annotations

from vigil.apps import App, AppSettings


class Brightness(App):
    kind = "brightness"
    Settings = AppSettings
    needs_pixels = True
    emits = ("brightness",)

    def process(self, ctx, objects):
        if ctx.image is None:
            return []
        mean = float(ctx.image.mean())
        return [self.event(ctx, "brightness", attributes={"mean": mean, "frame": ctx.frame_index})]
