"""Password-guess limiting (logins, password changes): failures per client address, per
user name from one address, and per user name from everywhere.

The counted failures live in the site's database (`vigil.db.schema.LoginFailureRow`), so
every API replica in front of one database enforces the same limits, and a restart does
not reset them. Failures older than the window are forgotten. While a limit is reached,
the attempt is refused with 429 and the seconds until it is not.

`attempt` checks the limits and counts the attempt in one write transaction, before the
password is verified, serialised with every other attempt (SQLite's write lock, a
PostgreSQL advisory lock), so concurrent guesses, on any replica, cannot all pass the check
before any of them is counted; `succeeded` takes the count back. A user name is locked per
address (an attacker who guesses the owner's password wrong five times locks out only
themselves); the larger per-name limit over all addresses bounds a guesser with many
addresses, and does not apply from an address the user has logged in from before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vigil.db.database import Database, upsert
from vigil.db.schema import LoginAddressRow, LoginFailureRow

__all__ = ["LoginLimiter"]

#: PostgreSQL advisory lock serialising attempts (any constant; "vigil-li" in ASCII).
_LOCK_KEY = 0x766967696C2D6C69

#: A limit: (scope, user name, address); "" where the scope does not use the part.
Key = tuple[str, str, str]


class LoginLimiter:
    """Guess limits on the `Database` (shared by every process using it); `clock` is wall
    clock seconds (shared by the processes too)."""

    def __init__(
        self,
        database: Database,
        *,
        per_ip: int = 20,
        per_user_ip: int = 5,
        per_user: int = 100,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.per_ip = per_ip
        self.per_user_ip = per_user_ip
        self.per_user = per_user
        self.window_s = window_s
        self.clock = clock

    def attempt(self, ip: str | None, username: str) -> int | None:
        """Whole seconds to wait before this user name may be tried from `ip` (the attempt
        is not counted), or None: the attempt is counted as failed until `succeeded`."""
        now = self.clock()
        address, name = _address(ip), _name(username)
        with self._serialised() as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.time <= now - self.window_s))
            keys = self._keys(s, address, name)
            waits = []
            for key, limit in keys:
                oldest = self._oldest_counted(s, key, limit)
                if oldest is not None:
                    waits.append(oldest + self.window_s - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            s.add_all(
                LoginFailureRow(scope=scope, username=user, address=addr, time=now)
                for (scope, user, addr), _ in keys
            )
        return None

    def succeeded(self, ip: str | None, username: str) -> None:
        """The password was right: the attempt was no failure, and this address's lock of
        the name is lifted."""
        address, name = _address(ip), _name(username)
        with self._serialised() as s:
            counted = [key for key, _ in self._keys(s, address, name) if key[0] != "user_ip"]
            s.execute(delete(LoginFailureRow).where(*_matching(("user_ip", name, address))))
            for key in counted:
                newest = select(func.max(LoginFailureRow.id)).where(*_matching(key))
                s.execute(
                    delete(LoginFailureRow).where(LoginFailureRow.id == newest.scalar_subquery())
                )
            insert = upsert(s, LoginAddressRow).values(
                username=name, address=address, time=self.clock()
            )
            s.execute(
                insert.on_conflict_do_update(
                    index_elements=[LoginAddressRow.username, LoginAddressRow.address],
                    set_={"time": insert.excluded.time},
                )
            )

    @contextmanager
    def _serialised(self) -> Iterator[Session]:
        """A write transaction no other attempt runs beside (SQLite: its write lock)."""
        with self.database.write() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
            yield s

    def _keys(self, s: Session, address: str, username: str) -> list[tuple[Key, int]]:
        keys: list[tuple[Key, int]] = [
            (("ip", "", address), self.per_ip),
            (("user_ip", username, address), self.per_user_ip),
        ]
        known = s.get(LoginAddressRow, (username, address)) is not None
        if not known:
            keys.append((("user", username, ""), self.per_user))
        return keys

    @staticmethod
    def _oldest_counted(s: Session, key: Key, limit: int) -> float | None:
        """The time of the `limit`-th newest failure counted under `key` (None: fewer)."""
        stmt = (
            select(LoginFailureRow.time)
            .where(*_matching(key))
            .order_by(LoginFailureRow.time.desc(), LoginFailureRow.id.desc())
            .offset(max(limit - 1, 0))
            .limit(1)
        )
        found = s.scalar(stmt)
        return None if found is None else float(found)


def _address(ip: str | None) -> str:
    return (ip or "")[:64]


def _name(username: str) -> str:
    return username[:255]


def _matching(key: Key) -> tuple[Any, ...]:
    """The conditions selecting the failures counted under `key`."""
    scope, username, address = key
    return (
        LoginFailureRow.scope == scope,
        LoginFailureRow.username == username,
        LoginFailureRow.address == address,
    )
