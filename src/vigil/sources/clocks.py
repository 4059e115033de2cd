"""The clocks of a live source: a network stream's timestamps, or a file's positions, on
the wall clock (`vigil.sources.live`)."""

from __future__ import annotations

import threading
import time


class NetworkClock:
    """Maps a connection's stream timestamps onto the wall clock.

    offset = min over packets of (arrival - pts): the delay of the fastest packet seen, allowed
    to creep up by `creep` per second (clock drift) and re-anchored when the timestamps jump.
    """

    def __init__(self, creep: float = 1e-3, jump: float = 1.0):
        self.offset: float | None = None
        self.last_arrival = 0.0
        self.creep = creep
        self.jump = jump

    def packet(self, pts: float | None, arrival: float) -> float:
        if pts is None:
            return arrival
        candidate = arrival - pts
        if self.offset is None or arrival - (pts + self.offset) > self.jump:
            self.offset = candidate
        else:
            self.offset = min(self.offset + self.creep * (arrival - self.last_arrival), candidate)
        self.last_arrival = arrival
        return pts + self.offset

    def frame(self, pts: float | None, arrival: float) -> float:
        if pts is None or self.offset is None:
            return arrival
        return min(pts + self.offset, arrival)


class FileClock:
    """A file's timeline on the wall clock: start + position; `realtime` paces the reader."""

    def __init__(self, realtime: bool, stop: threading.Event, lag_limit: float = 1.0):
        self.realtime = realtime
        self.stop = stop
        self.lag_limit = lag_limit
        self.wall0: float | None = None
        self.mono0 = 0.0
        self.base = 0.0  # position of the current pass's first timestamp (loops add up)
        self.first: float | None = None  # first timestamp of the current pass
        self.position = 0.0  # latest position, seconds

    def new_pass(self, step: float) -> None:
        if self.first is not None:
            self.base = self.position + step
        self.first = None

    def at(self, pts: float | None, fallback: float) -> float:
        """Wall time of media time `pts` (or of `fallback` position when it has none);
        in realtime mode, waits until then."""
        if pts is None:
            position = fallback
        else:
            if self.first is None:
                self.first = pts
            position = self.base + pts - self.first
        self.position = max(self.position, position)
        if self.wall0 is None:
            self.wall0, self.mono0 = time.time(), time.monotonic()
        if self.realtime:
            delay = self.mono0 + position - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            elif -delay > self.lag_limit:  # fell far behind: keep the timeline near now
                self.wall0 -= delay
                self.mono0 -= delay
        return self.wall0 + position
