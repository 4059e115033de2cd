"""Shared pieces of the built-in apps (private: not part of the SDK)."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.apps.base import App, AppSettings, ClassName, FrameContext, Scene, ZoneName
from vigil.events.event import Event
from vigil.geometry.tracking import LostTracks, ZoneTracker

VEHICLES: list[ClassName] = ["car", "motorcycle", "bus", "truck"]
PEOPLE: list[ClassName] = ["person"]


class TrackedSettings(AppSettings):
    """Settings shared by the apps that follow tracks."""

    inertia: int = Field(3, ge=1, le=100, description="frames to confirm entering/leaving a zone")
    lost_timeout: float = Field(
        2.0, gt=0, description="seconds after which an unseen track is considered gone"
    )


class ZoneSettings(TrackedSettings):
    """Settings of the apps that watch tracks of some classes in a zone (None: the whole frame)."""

    zone: ZoneName | None = None
    classes: list[ClassName] = Field(default_factory=PEOPLE.copy)


class AppState(BaseModel):
    """Base of a built-in app's saved state (`App.snapshot`): validated in full before
    `App.restore` assigns any of it; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


Total = Annotated[float, Field(ge=0)]
"""A running total in a saved state: finite, never negative."""


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


class ZoneApp(App):
    """Base of the built-in apps that follow tracks of ``settings.classes`` through a zone.

    Sets ``zone`` (None: the whole frame), ``class_ids`` and ``tracker``, a `ZoneTracker` that
    confirms entering and leaving after ``inertia`` frames and forgets a track unseen for
    ``lost_timeout`` seconds.
    """

    def __init__(self, name: str, settings: ZoneSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.zone = scene.zone(settings.zone) if settings.zone is not None else None
        self.class_ids = scene.class_ids(settings.classes)
        self.tracker = ZoneTracker(
            self.zone, settings.inertia, settings.inertia, forget_after=settings.lost_timeout
        )

    @property
    def _zone_name(self) -> str | None:
        return None if self.zone is None else self.zone.name

    def _end_event(
        self,
        ctx: FrameContext,
        type: str,
        oe: OpenEvent,
        end_time: float,
        reason: str,
        attributes: dict[str, Any],
        track_id: int | None = None,
    ) -> Event:
        """The ``end`` event of `oe`; its attributes are `attributes` and ``reason``."""
        return self.event(
            ctx,
            type,
            "end",
            start_time=oe.start_time,
            end_time=end_time,
            track_id=track_id,
            class_id=oe.class_id,
            zone=self._zone_name,
            attributes={**attributes, "reason": reason},
            id=oe.id,
        )


class LevelEvent:
    """One long-lived event of `app` at a time, while a level (a count) stays high.

    `update` feeds one frame: the raw condition, debounced by `hysteresis`. The event starts
    once the debounced condition has held for `min_seconds` (and ``can_start``), and ends
    (reason ``below``) when it clears or at end of stream (`finish`). Its end attributes are
    the caller's, then ``max_count`` (the highest count while open) and ``duration``.
    """

    def __init__(self, app: ZoneApp, type: str, hysteresis: Hysteresis, min_seconds: float):
        self.app = app
        self.type = type
        self.hysteresis = hysteresis
        self.min_seconds = min_seconds
        self.open: OpenEvent | None = None

    def update(
        self,
        ctx: FrameContext,
        high: bool,
        count: int,
        start_attributes: dict[str, Any],
        end_attributes: dict[str, Any] | None = None,
        can_start: bool = True,
    ) -> list[Event]:
        """Feed one frame: `high` is this frame's raw condition, `count` its level."""
        now = ctx.pts
        h = self.hysteresis
        h.update(high, now)
        if self.open is not None:
            self.open.extra["max_count"] = max(self.open.extra["max_count"], count)
            return [] if h.state else [self.end(ctx, now, "below", end_attributes)]
        if h.state and can_start and now - h.since >= self.min_seconds - 1e-9:
            ev = self.app.event(
                ctx, self.type, "start", zone=self.app._zone_name, attributes=start_attributes
            )
            self.open = OpenEvent(ev.id, now, extra={"max_count": count})
            return [ev]
        return []

    def end(
        self,
        ctx: FrameContext,
        end_time: float,
        reason: str,
        attributes: dict[str, Any] | None = None,
    ) -> Event:
        """Close the open event and return its ``end`` event."""
        oe, self.open = self.open, None
        assert oe is not None
        attributes = {
            **(attributes or {}),
            "max_count": oe.extra["max_count"],
            "duration": round_s(end_time - oe.start_time),
        }
        return self.app._end_event(ctx, self.type, oe, end_time, reason, attributes)

    def finish(
        self, ctx: FrameContext, end_attributes: dict[str, Any] | None = None
    ) -> list[Event]:
        """End of stream: end the open event, if any."""
        if self.open is None:
            return []
        return [self.end(ctx, ctx.pts, "end_of_stream", end_attributes)]


class PerTrackEventApp(ZoneApp):
    """A `ZoneApp` with at most one open long-lived event per track, in ``_open``."""

    def __init__(self, name: str, settings: ZoneSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self._open: dict[int, OpenEvent] = {}

    @abc.abstractmethod
    def _end(self, ctx: FrameContext, tid: int, end_time: float, reason: str) -> Event:
        """Remove the open event of track `tid` from ``_open`` and return its ``end`` event."""

    def _is_open(self, ids: np.ndarray) -> np.ndarray:
        """Which of the track `ids` have an open event."""
        return np.isin(ids, np.fromiter(self._open, np.int64, len(self._open)))

    def _end_lost(self, ctx: FrameContext, lost: LostTracks) -> list[Event]:
        """End the open events of the tracks gone for ``lost_timeout``, at their last sighting."""
        return [
            self._end(ctx, tid, last, "lost")
            for tid, last in zip(lost.ids.tolist(), lost.last_seen.tolist(), strict=True)
            if tid in self._open
        ]

    def finish(self, ctx: FrameContext) -> list[Event]:
        """End every open event at its track's last sighting (now, if unknown or later)."""
        ids = list(self._open)
        last = self.tracker.last_seen(np.asarray(ids, np.int64))
        return [
            self._end(ctx, tid, min(ctx.pts, t) if np.isfinite(t) else ctx.pts, "end_of_stream")
            for tid, t in zip(ids, last.tolist(), strict=True)
        ]
