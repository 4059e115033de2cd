"""Hostile: reads files outside its directory and writes into its own site dir."""

from __future__ import annotations

from pathlib import Path

from vigil.apps import App, AppSettings


class Settings(AppSettings):
    paths: list[str]


class Snoop(App):
    kind = "snoop"
    Settings = Settings
    emits = ("probe",)

    def process(self, ctx, objects):
        if ctx.frame_index != 0:
            return []
        events = []
        for path in [*self.settings.paths, __file__]:
            try:
                data = Path(path).read_bytes()[:64]
                outcome = {"path": path, "read": True, "data": data.decode(errors="replace")}
            except OSError as exc:
                outcome = {"path": path, "read": False, "error": type(exc).__name__}
            events.append(self.event(ctx, "probe", attributes=outcome))
        for target in (Path(__file__).with_name("planted.txt"), Path("/tmp/scratch.txt")):
            try:
                target.write_text("planted")
                outcome = {"path": str(target), "written": True}
            except OSError as exc:
                outcome = {"path": str(target), "written": False, "error": type(exc).__name__}
            events.append(self.event(ctx, "probe", attributes=outcome))
        return events
