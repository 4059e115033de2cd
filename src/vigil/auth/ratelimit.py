"""Password-guess limiting (logins, password changes): failures per client address, per
user name from one address, and per user name from everywhere.

In memory (one service process); failures older than the window are forgotten. While a
key is over its limit, the attempt is refused with 429 and the seconds until it is not.

`attempt` checks the limits and counts the attempt in one step under the lock, before the
password is verified, so concurrent guesses cannot all pass the check before any of them
is counted; `succeeded` takes the count back. A user name is locked per address (an
attacker who guesses the owner's password wrong five times locks out only themselves); the
larger per-name limit over all addresses bounds a guesser with many addresses, and does not
apply from an address the user has logged in from before.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginLimiter"]

_MAX_KEYS = 100_000  # bound on remembered keys, so a flood of names cannot grow it forever

Key = tuple[str, ...]


class LoginLimiter:
    def __init__(
        self,
        *,
        per_ip: int = 20,
        per_user_ip: int = 5,
        per_user: int = 100,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_ip = per_ip
        self.per_user_ip = per_user_ip
        self.per_user = per_user
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[Key, deque[float]] = {}
        self._known: set[tuple[str, str]] = set()  # (user, address) that logged in
        self._lock = threading.Lock()

    def attempt(self, ip: str | None, username: str) -> int | None:
        """Whole seconds to wait before this user name may be tried from `ip` (the attempt
        is not counted), or None: the attempt is counted as failed until `succeeded`."""
        now = self.clock()
        address = ip or ""
        with self._lock:
            if len(self._failures) >= _MAX_KEYS:
                self._forget_old(now)
            keys = self._keys(address, username)
            waits = []
            for key, limit in keys:
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            for key, limit in keys:
                self._failures.setdefault(key, deque(maxlen=limit)).append(now)
        return None

    def succeeded(self, ip: str | None, username: str) -> None:
        """The password was right: the attempt was no failure, and this address's lock of
        the name is lifted."""
        address = ip or ""
        with self._lock:
            counted = [key for key, _ in self._keys(address, username) if key[0] != "user_ip"]
            self._failures.pop(("user_ip", username, address), None)
            for key in counted:
                times = self._failures.get(key)
                if times:
                    times.pop()
            if len(self._known) >= _MAX_KEYS:
                self._known.clear()
            self._known.add((username, address))

    def _keys(self, address: str, username: str) -> list[tuple[Key, int]]:
        keys: list[tuple[Key, int]] = [
            (("ip", address), self.per_ip),
            (("user_ip", username, address), self.per_user_ip),
        ]
        if (username, address) not in self._known:
            keys.append((("user", username), self.per_user))
        return keys

    def _recent(self, key: Key, now: float) -> deque[float]:
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
