"""Weekly schedules (``[{days: [mon, tue], start: "22:00", end: "06:00"}]``) and the app clock.

A window is active on the listed days from ``start`` (inclusive) to ``end`` (exclusive), in
the wall-clock time of the datetime it is given. ``end`` earlier than ``start`` runs past
midnight into the next day (the day listed is the day the window *starts*); ``start == end``
is the whole day; ``end`` may be ``"24:00"``.

The wall clock of a frame (`frame_clock`): ``start_datetime + pts`` when a start datetime is
configured (for recorded files: when the recording began), otherwise the machine's current
local time (right for live streams). A timezone-aware ``start_datetime`` is evaluated in its
own timezone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import Field, field_validator

from vigil.apps.base import AppSettings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(?:([01]?\d|2[0-3]):([0-5]\d)|24:00)$")


def _minutes(hhmm: str) -> int:
    m = _TIME.match(hhmm.strip())
    if not m:
        raise ValueError(f"time must be HH:MM, got {hhmm!r}")
    return 24 * 60 if m.group(1) is None else int(m.group(1)) * 60 + int(m.group(2))


class ScheduleWindow(AppSettings):
    """One weekly window; ``days`` defaults to every day."""

    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            key = str(d).strip().lower()[:3]
            if key not in DAYS:
                raise ValueError(f"unknown day {d!r} (use mon..sun)")
            out.append(key)
        return out

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        _minutes(v)
        return v.strip()

    def active(self, when: datetime) -> bool:
        start, end = _minutes(self.start) % (24 * 60), _minutes(self.end)
        minute = when.hour * 60 + when.minute + when.second / 60.0
        today = DAYS[when.weekday()]
        yesterday = DAYS[(when.weekday() - 1) % 7]
        if start == end % (24 * 60):
            return today in self.days
        if start < end:
            return today in self.days and start <= minute < end
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)


def schedule_active(windows: Sequence[ScheduleWindow], when: datetime) -> bool:
    """True if any window is active at `when`; an empty schedule is always active."""
    return not windows or any(w.active(when) for w in windows)


def frame_clock(start_datetime: datetime | None, pts: float) -> datetime:
    """Wall-clock time of a frame: ``start_datetime + pts``, or now when no start is set."""
    if start_datetime is None:
        return datetime.now()
    return start_datetime + timedelta(seconds=float(pts))
