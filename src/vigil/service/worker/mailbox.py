"""`FrameMailbox`: the frames a camera worker's ingest hands to its analysis thread.

Analysis runs at `detect_fps` on average, but one step can overrun its period (a detector
batch shared with other cameras, CPU contention): with a single slot the next frame would
replace the waiting one and be lost. A few slots absorb such a hiccup; the bound and the age
limit keep analysis close to live when it really falls behind (a frame analysed seconds late
is of no use to live alerts, and a growing backlog would never be caught up):

- `put` appends; when the mailbox is full the oldest frame is dropped (the newest are worth
  more);
- `get` skips frames that waited longer than `max_age` seconds (dropped too).

Every dropped frame is counted in `dropped`.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from vigil.sources.frame import Frame

__all__ = ["FrameMailbox"]


class FrameMailbox:
    """A small bounded, age-limited frame queue between two threads (drop-oldest)."""

    def __init__(
        self,
        capacity: int = 3,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if max_age <= 0:
            raise ValueError(f"max_age must be > 0, got {max_age}")
        self.capacity = capacity
        self.max_age = max_age
        self._clock = clock
        self._frames: collections.deque[tuple[float, Frame]] = collections.deque()
        self._cond = threading.Condition()
        #: Frames dropped so far: pushed out by newer ones, or too old when their turn came.
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._frames)

    def put(self, frame: Frame) -> None:
        """Queue `frame` (never blocks); the oldest waiting frame goes when it is full."""
        with self._cond:
            if len(self._frames) >= self.capacity:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append((self._clock(), frame))
            self._cond.notify()

    def get(self, timeout: float) -> Frame | None:
        """The oldest frame that is recent enough, waiting up to `timeout` seconds for one;
        None on timeout or after `wake()`."""
        with self._cond:
            if not self._frames:
                self._cond.wait(timeout)
            now = self._clock()
            while self._frames:
                posted, frame = self._frames.popleft()
                if now - posted <= self.max_age:
                    return frame
                self.dropped += 1
            return None

    def wake(self) -> None:
        """Release a `get` waiting in another thread (shutting down)."""
        with self._cond:
            self._cond.notify_all()
