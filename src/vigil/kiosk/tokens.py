"""`DisplayTokens`: the read-only credentials of the analytics screen.

A display token is a credential of its own kind, not a user's API token: it lives in the
``display_tokens`` table, which nothing but the kiosk routes reads, so the rest of the API
(whose bearer tokens are looked up in ``api_tokens``, whose cookie is the session's) refuses
it by construction. It names the cameras the screen may show (None: all). Only its SHA-256 is
kept, so it is shown once, when an admin creates it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from vigil.auth.passwords import USERNAME_PATTERN
from vigil.db.database import Database
from vigil.db.schema import DisplayTokenRow
from vigil.errors import VigilError

__all__ = ["DISPLAY_TOKEN_PREFIX", "DisplayToken", "DisplayTokenError", "DisplayTokens"]

DISPLAY_TOKEN_PREFIX = "vigil_display_"
_NAME = re.compile(USERNAME_PATTERN)
_TOUCH_EVERY_S = 30.0  # last_used is written at most this often per token


class DisplayTokenError(VigilError, ValueError):
    """A display-token request that cannot be done (one line)."""


@dataclass(frozen=True, slots=True)
class DisplayToken:
    name: str
    cameras: frozenset[str] | None
    """The cameras the screen shows; None: every camera."""
    created_by: str | None
    created_at: float
    last_used: float | None

    def visible(self, cameras: Iterable[str]) -> list[str]:
        """The ids in `cameras` this screen may show, in order."""
        return [c for c in cameras if self.cameras is None or c in self.cameras]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _token(row: DisplayTokenRow) -> DisplayToken:
    cameras = None if row.cameras is None else frozenset(row.cameras)
    return DisplayToken(row.name, cameras, row.created_by, row.created_at, row.last_used)


class DisplayTokens:
    """Display tokens in Vigil's database; every method is one short transaction."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    def create(
        self, name: str, cameras: Iterable[str] | None = None, created_by: str | None = None
    ) -> str:
        """A new token named `name` for `cameras` (None: all); returns its value, once."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DisplayTokenError(
                f"display token name {name!r}: 1-64 letters, digits, '_', '.', '@' or '-', "
                "starting with a letter or digit"
            )
        camera_list = None
        if cameras is not None:
            camera_list = sorted({c.strip() for c in cameras if c.strip()})
            if not camera_list:
                raise DisplayTokenError("cameras: give at least one camera id, or none for all")
        value = DISPLAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = DisplayTokenRow(
            name=name,
            token_hash=_digest(value),
            cameras=camera_list,
            created_by=created_by,
            created_at=self.clock(),
        )
        try:
            with self.database.write() as s:
                if s.scalar(select(DisplayTokenRow.id).where(DisplayTokenRow.name == name)):
                    raise DisplayTokenError(f"display token {name!r} already exists")
                s.add(row)
        except IntegrityError:  # created by someone else in between
            raise DisplayTokenError(f"display token {name!r} already exists") from None
        return value

    def tokens(self) -> list[DisplayToken]:
        with self.database.read() as s:
            rows = s.scalars(select(DisplayTokenRow).order_by(DisplayTokenRow.name))
            return [_token(r) for r in rows]

    def revoke(self, name: str) -> None:
        """Delete the token named `name`: every screen using it stops at its next request."""
        with self.database.write() as s:
            result = s.execute(delete(DisplayTokenRow).where(DisplayTokenRow.name == name))
            if not getattr(result, "rowcount", 0):
                raise DisplayTokenError(f"unknown display token {name!r}")

    def check(self, value: str) -> DisplayToken | None:
        """The token whose value this is, else None (revoked, or never issued)."""
        if not value.startswith(DISPLAY_TOKEN_PREFIX):
            return None
        key = _digest(value)
        now = self.clock()
        with self.database.read() as s:
            row = s.scalar(select(DisplayTokenRow).where(DisplayTokenRow.token_hash == key))
            token = None if row is None else _token(row)
        if token is not None and (
            token.last_used is None or now - token.last_used > _TOUCH_EVERY_S
        ):
            with self.database.write() as s:
                fresh = s.scalar(select(DisplayTokenRow).where(DisplayTokenRow.token_hash == key))
                if fresh is not None:
                    fresh.last_used = now
        return token
