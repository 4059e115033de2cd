"""Who watches which camera's live view, so workers draw and encode live JPEGs on demand.

A camera worker draws its overlays and JPEG-encodes a `LiveFrame` only while someone watches
that camera (a few per second per camera otherwise spent for nobody). `LiveViewers` counts
the watchers per camera and tells the service through its `demand(camera_id, wanted)`
callable (the supervisor's `set_live_demand`) on the first one (0 -> 1) and after the last:

* a stream (MJPEG, ``WS /api/live``) holds `watch(camera_id)` while it runs;
* a polled single JPEG (a grid tile, the camera page) `touch`es the camera: a lease of
  `lease_s` seconds, renewed by each poll, ended by a sweeper thread when the polls stop.

Thread-safe: streams run on the event loop, leases end on the sweeper thread, and `demand`
is called under the lock so a True and the False after it reach the service in order.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

__all__ = ["LEASE_S", "LiveViewers"]

LEASE_S = 5.0  # how long one poll of a single JPEG keeps a camera's live view wanted


class LiveViewers:
    """Viewers per camera; `demand(camera, True)` on the first, `(camera, False)` after the
    last one leaves or its lease ends."""

    def __init__(
        self, demand: Callable[[str, bool], None] | None = None, *, lease_s: float = LEASE_S
    ) -> None:
        """`demand` None: a service whose workers draw live views always (nothing to tell,
        and no frame is ever stale for want of a viewer)."""
        self._switched = demand is not None
        self._demand = demand if demand is not None else _always_drawn
        self._lease_s = float(lease_s)
        self._lock = threading.Condition()
        self._streams: Counter[str] = Counter()
        self._leases: dict[str, float] = {}  # camera -> when its lease ends (clock time)
        self._sweeper: threading.Thread | None = None

    def watching(self, camera_id: str) -> bool:
        """Whether the camera's live view is wanted now."""
        with self._lock:
            return self._wanted(camera_id)

    @contextlib.contextmanager
    def watch(self, camera_id: str) -> Iterator[None]:
        """Count a stream as a viewer of the camera while the block runs."""
        self.add(camera_id)
        try:
            yield
        finally:
            self.remove(camera_id)

    def add(self, camera_id: str) -> None:
        """One more stream watches the camera (`remove` it when it ends)."""
        with self._lock:
            was = self._wanted(camera_id)
            self._streams[camera_id] += 1
            if not was:
                self._demand(camera_id, True)

    def remove(self, camera_id: str) -> None:
        with self._lock:
            if self._streams[camera_id] <= 0:
                return
            self._streams[camera_id] -= 1
            if self._streams[camera_id] == 0:
                del self._streams[camera_id]
            if not self._wanted(camera_id):
                self._demand(camera_id, False)

    def touch(self, camera_id: str) -> bool:
        """Lease the camera's live view for `lease_s` seconds (renewing any lease); True
        when nobody watched it before, so its newest frame may be stale."""
        with self._lock:
            was = self._wanted(camera_id)
            self._leases[camera_id] = time.monotonic() + self._lease_s
            if not was:
                self._demand(camera_id, True)
            self._start_sweeper()
            self._lock.notify_all()
            return self._switched and not was

    # ------------------------------------------------------------------ internals

    def _wanted(self, camera_id: str) -> bool:
        if self._streams.get(camera_id, 0) > 0:
            return True
        end = self._leases.get(camera_id)
        return end is not None and end > time.monotonic()

    def _start_sweeper(self) -> None:
        if self._sweeper is None or not self._sweeper.is_alive():
            self._sweeper = threading.Thread(target=self._sweep, name="live-leases", daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        """End leases as they run out; exits when none is left (`touch` starts it again)."""
        with self._lock:
            while self._leases:
                now = time.monotonic()
                for camera_id, end in list(self._leases.items()):
                    if end <= now:
                        del self._leases[camera_id]
                        if not self._wanted(camera_id):
                            self._demand(camera_id, False)
                if self._leases:
                    self._lock.wait(max(0.01, min(self._leases.values()) - now))


def _always_drawn(camera_id: str, wanted: bool) -> None:
    """The demand of a service that cannot switch live views off: nothing to do."""
