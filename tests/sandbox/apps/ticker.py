"""A well-behaved test app: one ``tick`` event per frame, objects counted in a zone."""

from __future__ import annotations

from vigil.apps import App, AppSettings


class Settings(AppSettings):
    zone: str


class Ticker(App):
    kind = "ticker"
    Settings = Settings
    emits = ("tick", "done")

    def __init__(self, name, settings, scene):
        super().__init__(name, settings, scene)
        self.zone = scene.zone(settings.zone)
        self.frames = 0

    def process(self, ctx, objects):
        self.frames += 1
        inside = int(self.zone.contains(objects.anchors).sum())
        return [
            self.event(
                ctx,
                "tick",
                attributes={
                    "frame": ctx.frame_index,
                    "objects": len(objects),
                    "inside": inside,
                    "track_sum": int(objects.tracker_id.sum()),
                },
            )
        ]

    def finish(self, ctx):
        return [self.event(ctx, "done", attributes={"frames": self.frames})]

    def counters(self):
        return {"frames": self.frames}
