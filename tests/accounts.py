"""Accounts for tests that call the API: an `AuthStore` with cheap argon2 parameters (real
hashing, just fast) and users with API tokens, in-process or in a site's database."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

from vigil.auth import AuthStore
from vigil.db.database import Database
from vigil.events import EventStore

#: Real argon2id, at the smallest cost: tests create many users.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "a test password"


def fast_auth(events: EventStore, **kw: Any) -> AuthStore:
    return AuthStore(events.database, hasher=FAST_HASHER, **kw)


def user_token(
    auth: AuthStore, username: str = "admin", role: str = "admin", cameras: Any = None
) -> str:
    """An API token of the user, added first (password `PASSWORD`) unless it exists."""
    if auth.user(username) is None:
        auth.add_user(username, PASSWORD, role, cameras)
    return auth.create_token(username)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def site_admin_headers(database_url: str) -> dict[str, str]:
    """Headers of a new admin in a site's database (before or while `vigil serve` runs)."""
    with Database(database_url) as database:
        events = EventStore(database)
        return bearer(user_token(fast_auth(events)))
