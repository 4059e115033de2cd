"""Hostile: never returns from its first frame."""

from __future__ import annotations

import time

from vigil.apps import App, AppSettings


class Sleeper(App):
    kind = "sleeper"
    Settings = AppSettings

    def process(self, ctx, objects):
        while True:
            time.sleep(3600)
