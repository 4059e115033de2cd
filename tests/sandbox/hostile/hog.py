"""Hostile: allocates memory without bound."""

from __future__ import annotations

from vigil.apps import App, AppSettings

HOARD = []


class Hog(App):
    kind = "hog"
    Settings = AppSettings

    def process(self, ctx, objects):
        while True:
            HOARD.append(bytearray(32 * 1024 * 1024))
