"""Hostile: starts as many processes as it can (a fork bomb, stopped at 40)."""

from __future__ import annotations

import os
import time

from vigil.apps import App, AppSettings


class Forker(App):
    kind = "forker"
    Settings = AppSettings
    emits = ("probe",)

    def process(self, ctx, objects):
        if ctx.frame_index != 0:
            return []
        forked = 0
        for _ in range(40):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
        return [self.event(ctx, "probe", attributes={"forked": forked})]
