"""Shared pieces of the built-in apps (private: not part of the SDK)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from vigil.apps.base import AppSettings

VEHICLES = ["car", "motorcycle", "bus", "truck"]


class TrackedSettings(AppSettings):
    """Settings shared by the apps that follow tracks."""

    inertia: int = Field(3, ge=1, le=100, description="frames to confirm entering/leaving a zone")
    lost_timeout: float = Field(
        2.0, gt=0, description="seconds after which an unseen track is considered gone"
    )


class Hysteresis:
    """A scalar boolean with inertia: on after `on_frames` raw-True frames, off after `off_frames`.

    ``since`` is the time the current state began, backdated to the first frame of its streak.
    """

    def __init__(self, on_frames: int = 3, off_frames: int = 3):
        self.on_frames = int(on_frames)
        self.off_frames = int(off_frames)
        self.state = False
        self.since = math.nan
        self._streak = 0
        self._streak_start = math.nan

    def update(self, raw: bool, now: float) -> bool:
        """Feed one observation; returns True when the confirmed state flipped."""
        if bool(raw) == self.state:
            self._streak = 0
            return False
        self._streak += 1
        if self._streak == 1:
            self._streak_start = now
        if self._streak >= (self.off_frames if self.state else self.on_frames):
            self.state = not self.state
            self.since = self._streak_start
            self._streak = 0
            return True
        return False


@dataclass(slots=True)
class OpenEvent:
    """Bookkeeping of a long-lived event that has started and not yet ended."""

    id: str
    start_time: float
    class_id: int | None = None
    last_update: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)


def round_s(x: float) -> float:
    """Seconds rounded to milliseconds, for event attributes."""
    return round(float(x), 3)


def heights(xyxy: np.ndarray) -> np.ndarray:
    return np.clip(xyxy[:, 3] - xyxy[:, 1], 1e-6, None).astype(np.float64)
