"""Who watches which camera's live view, so workers draw and encode live JPEGs on demand.

A camera worker draws its overlays and JPEG-encodes a `LiveFrame` only while someone watches
that camera (a few per second per camera otherwise spent for nobody), and a second, unmasked
JPEG of a camera whose privacy policy masks objects only while someone entitled to it
watches (`unmasked`). `LiveViewers` counts the watchers per camera and tells the service
through its `demand(camera_id, wanted, unmasked)` callable (the supervisor's
`set_live_demand`) whenever either changes: on the first watcher (0 -> 1), the first
unmasked one, after the last unmasked one and after the last:

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
        self, demand: Callable[[str, bool, bool], None] | None = None, *, lease_s: float = LEASE_S
    ) -> None:
        """`demand` None: a service whose workers draw live views always (nothing to tell,
        and no frame is ever stale for want of a viewer)."""
        self._switched = demand is not None
        self._demand = demand if demand is not None else _always_drawn
        self._lease_s = float(lease_s)
        self._lock = threading.Condition()
        # camera -> streams; (camera, True) counts those watching it unmasked
        self._streams: Counter[tuple[str, bool]] = Counter()
        # (camera, unmasked) -> when its lease ends (clock time)
        self._leases: dict[tuple[str, bool], float] = {}
        self._told: dict[str, tuple[bool, bool]] = {}  # camera -> its demand as last told
        self._sweeper: threading.Thread | None = None

    def watching(self, camera_id: str) -> bool:
        """Whether the camera's live view is wanted now."""
        with self._lock:
            return self._wanted(camera_id)[0]

    @contextlib.contextmanager
    def watch(self, camera_id: str, unmasked: bool = False) -> Iterator[None]:
        """Count a stream as a viewer of the camera (`unmasked`: entitled to it without
        object masks) while the block runs."""
        self.add(camera_id, unmasked)
        try:
            yield
        finally:
            self.remove(camera_id, unmasked)

    def add(self, camera_id: str, unmasked: bool = False) -> None:
        """One more stream watches the camera (`remove` it when it ends)."""
        with self._lock:
            self._streams[camera_id, unmasked] += 1
            self._tell(camera_id)

    def remove(self, camera_id: str, unmasked: bool = False) -> None:
        with self._lock:
            key = (camera_id, unmasked)
            if self._streams[key] <= 0:
                return
            self._streams[key] -= 1
            if self._streams[key] == 0:
                del self._streams[key]
            self._tell(camera_id)

    def touch(self, camera_id: str, unmasked: bool = False) -> bool:
        """Lease the camera's live view (`unmasked`: without object masks) for `lease_s`
        seconds (renewing any lease); True when nobody watched it so before, so its newest
        frame may be stale or lack the unmasked picture."""
        with self._lock:
            was = self._told.get(camera_id, (False, False))
            self._leases[camera_id, unmasked] = time.monotonic() + self._lease_s
            self._tell(camera_id)
            self._start_sweeper()
            self._lock.notify_all()
            return self._switched and not was[unmasked]

    # ------------------------------------------------------------------ internals

    def _wanted(self, camera_id: str) -> tuple[bool, bool]:
        """(watched at all, watched by someone entitled to it unmasked)."""
        now = time.monotonic()
        unmasked = self._streams.get((camera_id, True), 0) > 0
        unmasked = unmasked or self._leases.get((camera_id, True), 0.0) > now
        masked = self._streams.get((camera_id, False), 0) > 0
        masked = masked or self._leases.get((camera_id, False), 0.0) > now
        return masked or unmasked, unmasked

    def _tell(self, camera_id: str) -> None:
        """Tell the service the camera's demand if it changed (under the lock)."""
        now = self._wanted(camera_id)
        if now != self._told.get(camera_id, (False, False)):
            self._demand(camera_id, *now)
            if now[0]:
                self._told[camera_id] = now
            else:
                del self._told[camera_id]

    def _start_sweeper(self) -> None:
        if self._sweeper is None or not self._sweeper.is_alive():
            self._sweeper = threading.Thread(target=self._sweep, name="live-leases", daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        """End leases as they run out; exits when none is left (`touch` starts it again)."""
        with self._lock:
            while self._leases:
                now = time.monotonic()
                for key, end in list(self._leases.items()):
                    if end <= now:
                        del self._leases[key]
                        self._tell(key[0])
                if self._leases:
                    self._lock.wait(max(0.01, min(self._leases.values()) - now))


def _always_drawn(camera_id: str, wanted: bool, unmasked: bool) -> None:
    """The demand of a service that cannot switch live views off: nothing to do."""
