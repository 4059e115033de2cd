"""Hostile: fills memory that the address-space limit does not see — its private /tmp, its
/dev/shm, or a memfd — `mib` MiB, 16 MiB per frame (``where``: tmp, shm or memfd)."""

from __future__ import annotations

import os
from typing import Literal

from vigil.apps import App, AppSettings

CHUNK = b"\xa5" * (16 * 1024 * 1024)


class Settings(AppSettings):
    where: Literal["tmp", "shm", "memfd"]
    mib: int = 2048


class Filler(App):
    kind = "filler"
    Settings = Settings
    emits = ("filled",)

    def __init__(self, name, settings, scene):
        super().__init__(name, settings, scene)
        self.fds: list[int] = []
        self.written = 0

    def _open(self) -> int:
        n = len(self.fds)
        if self.settings.where == "memfd":
            return os.memfd_create(f"fill-{n}")
        folder = "/tmp" if self.settings.where == "tmp" else "/dev/shm"
        return os.open(f"{folder}/fill-{n}", os.O_CREAT | os.O_WRONLY, 0o600)

    def process(self, ctx, objects):
        if self.written >= self.settings.mib:
            return []
        if not self.fds or self.written % 256 == 0:  # a new file every 256 MiB
            self.fds.append(self._open())
        os.write(self.fds[-1], CHUNK)  # an error (ENOSPC, EFBIG) is an error of this frame
        self.written += 16
        return [self.event(ctx, "filled", attributes={"mib": self.written})]
