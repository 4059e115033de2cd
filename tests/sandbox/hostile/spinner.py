"""Hostile: burns CPU forever, ignoring SIGXCPU."""

from __future__ import annotations

import signal

from vigil.apps import App, AppSettings


class Spinner(App):
    kind = "spinner"
    Settings = AppSettings

    def process(self, ctx, objects):
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        while True:
            pass
