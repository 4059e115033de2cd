"""Login rate limiting: failed attempts per client address and per user name.

In memory (one service process); failures older than the window are forgotten. While a
key is over its limit, logins are refused with 429 and the seconds until it is not.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginLimiter"]

_MAX_KEYS = 100_000  # bound on remembered keys, so a flood of names cannot grow it forever


class LoginLimiter:
    def __init__(
        self,
        *,
        per_ip: int = 20,
        per_user: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_ip = per_ip
        self.per_user = per_user
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, ip: str | None, username: str) -> int | None:
        """Whole seconds to wait before this login may be tried, or None when it may now."""
        now = self.clock()
        waits = []
        with self._lock:
            for key, limit in (
                (("ip", ip or ""), self.per_ip),
                (("user", username), self.per_user),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, ip: str | None, username: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= _MAX_KEYS:
                self._forget_old(now)
            for key in (("ip", ip or ""), ("user", username)):
                self._failures.setdefault(
                    key, deque(maxlen=max(self.per_ip, self.per_user))
                ).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _forget_old(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= _MAX_KEYS:
            self._failures.clear()
