"""`AuthStore`: users, sessions, API tokens, the audit log and the password-guess limits
(`LoginLimiter`) in Vigil's database.

It works on an open `vigil.db.Database` (shared with the events and the recording index),
so the service and the ``vigil users`` command share one database, SQLite or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from vigil.auth import passwords
from vigil.auth.principal import Principal, Role, check_role
from vigil.auth.ratelimit import LoginLimiter
from vigil.db.database import Database
from vigil.db.engine import one_line_error
from vigil.db.schema import ApiTokenRow, AuditRow, SessionRow, UserRow
from vigil.errors import VigilError

__all__ = [
    "AuditEntry",
    "AuthError",
    "AuthStore",
    "LastAdminError",
    "UnknownUserError",
    "User",
    "UserExistsError",
]

SESSION_IDLE_S = 3600.0  # a session unused this long is over
SESSION_MAX_S = 12 * 3600.0  # and any session after this long
_TOUCH_EVERY_S = 30.0  # last_seen is written at most this often per session
_TOUCH_WARN_EVERY_S = 60.0  # a failing bookkeeping write is logged at most this often
_log = logging.getLogger(__name__)
TOKEN_PREFIX = "vigil_"


class AuthError(VigilError):
    """A user-management request that cannot be done (one line)."""


class UnknownUserError(AuthError, LookupError):
    pass


class UserExistsError(AuthError):
    pass


class UnknownTokenError(AuthError, LookupError):
    pass


class TokenExistsError(AuthError):
    """The user already has a token of that name."""


class LastAdminError(AuthError):
    """The change would leave no admin."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    cameras: frozenset[str] | None
    created_at: float
    updated_at: float
    unmask: frozenset[str] = frozenset()
    """Camera ids whose privacy masks the user may lift (``*``: every camera)."""

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role, self.cameras, self.unmask)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: float
    username: str | None
    action: str
    target: str
    detail: dict[str, Any]
    client_ip: str | None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed (never its value: only its hash is kept)."""

    id: int
    username: str
    name: str | None  # None: made before tokens had names
    created_at: float
    last_used: float | None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    principal: Principal
    csrf_token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _token_name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= 100 or not cleaned.isprintable():
        raise AuthError(f"token name: 1 to 100 printable characters, got {name!r}")
    return cleaned


def _user(row: UserRow) -> User:
    return User(
        username=row.username,
        role=check_role(row.role),
        cameras=None if row.cameras is None else frozenset(row.cameras),
        created_at=row.created_at,
        updated_at=row.updated_at,
        unmask=frozenset(row.unmask or ()),
    )


def _cameras(cameras: Iterable[str] | None) -> list[str] | None:
    if cameras is None:
        return None
    out = sorted({c.strip() for c in cameras if c.strip()})
    if not out:
        raise ValueError("cameras: give at least one camera id, or none for all cameras")
    return out


class AuthStore:
    """Users, sessions, tokens and audit entries; every method is one short transaction."""

    def __init__(
        self,
        database: Database,
        *,
        session_idle_s: float = SESSION_IDLE_S,
        session_max_s: float = SESSION_MAX_S,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.session_idle_s = session_idle_s
        self.session_max_s = session_max_s
        self.clock = clock
        self._hasher = hasher or PasswordHasher()
        # Verified against when the user is unknown, so timing does not tell names apart.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        self._bookkeeping_warned = -1e9  # monotonic time of the last bookkeeping warning
        #: The password-guess limits, in the same database (shared by every API replica).
        self.logins = LoginLimiter(database, clock=clock)

    # ---------------------------------------------------------------- users

    def has_users(self) -> bool:
        with self.database.read() as s:
            return s.scalar(select(UserRow.id).limit(1)) is not None

    def users(self) -> list[User]:
        with self.database.read() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def user(self, username: str) -> User | None:
        with self.database.read() as s:
            row = self._row(s, username)
            return None if row is None else _user(row)

    def add_user(
        self,
        username: str,
        password: str,
        role: str = "viewer",
        cameras: Iterable[str] | None = None,
        *,
        only_if_first: bool = False,
    ) -> User:
        """A new user. Raises ValueError (bad name/role/cameras), `WeakPasswordError`,
        `UserExistsError`; with `only_if_first`, `AuthError` when any user exists."""
        passwords.check_username(username)
        check_role(role)
        passwords.check_password(password, username)
        camera_list = _cameras(cameras)
        hashed = passwords.hash_password(password, self._hasher)
        now = self.clock()
        try:
            with self.database.write() as s:
                if only_if_first and s.scalar(select(UserRow.id).limit(1)) is not None:
                    raise AuthError("setup is closed: a user already exists")
                if self._row(s, username) is not None:
                    raise UserExistsError(f"user {username!r} already exists")
                row = UserRow(
                    username=username,
                    password_hash=hashed,
                    role=role,
                    cameras=camera_list,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                return _user(row)
        except IntegrityError:  # added by someone else in between
            raise UserExistsError(f"user {username!r} already exists") from None

    def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        cameras: Iterable[str] | None = None,
        all_cameras: bool = False,
        password: str | None = None,
        unmask: Iterable[str] | None = None,
    ) -> User:
        """Change role, cameras (`all_cameras` lifts the restriction), password, or the
        cameras whose privacy masks the user may lift (`unmask`: ``*`` every camera, empty
        none). A new password or role ends the user's sessions."""
        if role is not None:
            check_role(role)
        if password is not None:
            passwords.check_password(password, username)
        camera_list = None if cameras is None else _cameras(cameras)
        hashed = None if password is None else passwords.hash_password(password, self._hasher)
        with self.database.write() as s:
            row = self._row_or_raise(s, username)
            if role is not None and role != row.role:
                if row.role == "admin":
                    self._keep_an_admin(s, username)
                row.role = role
                self._end_sessions(s, username)
            if all_cameras:
                row.cameras = None
            elif camera_list is not None:
                row.cameras = camera_list
            if hashed is not None:
                row.password_hash = hashed
                self._end_sessions(s, username)
            if unmask is not None:
                row.unmask = sorted({c.strip() for c in unmask if c.strip()}) or None
            row.updated_at = self.clock()
            s.flush()
            return _user(row)

    def remove_user(self, username: str) -> None:
        """Delete the user with their sessions and tokens; never the last admin."""
        with self.database.write() as s:
            row = self._row_or_raise(s, username)
            if row.role == "admin":
                self._keep_an_admin(s, username)
            self._end_sessions(s, username)
            s.execute(delete(ApiTokenRow).where(ApiTokenRow.username == username))
            s.delete(row)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right, else None (same work for unknown names)."""
        if len(password) > passwords.MAX_PASSWORD:
            return None
        with self.database.read() as s:
            row = self._row(s, username)
            hashed = row.password_hash if row is not None else self._dummy_hash
            user = None if row is None else _user(row)
        if not passwords.verify_password(hashed, password, self._hasher) or user is None:
            return None
        if passwords.needs_rehash(hashed, self._hasher):
            with self.database.write() as s:
                fresh = self._row(s, username)
                if fresh is not None and fresh.password_hash == hashed:
                    fresh.password_hash = passwords.hash_password(password, self._hasher)
        return user

    # ---------------------------------------------------------------- sessions

    def create_session(self, username: str, client_ip: str | None = None) -> tuple[str, str]:
        """(cookie value, CSRF token) of a new session of an existing user."""
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self.clock()
        with self.database.write() as s:
            self._row_or_raise(s, username)
            s.add(
                SessionRow(
                    id=_digest(cookie),
                    username=username,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen=now,
                    client_ip=client_ip,
                )
            )
        return cookie, csrf

    def session(self, cookie: str) -> SessionInfo | None:
        """The live session of this cookie value (its idle time restarted), else None."""
        now = self.clock()
        key = _digest(cookie)
        with self.database.read() as s:
            row = s.get(SessionRow, key)
            if row is None:
                return None
            expired = (
                now - row.last_seen > self.session_idle_s
                or now - row.created_at > self.session_max_s
            )
            user = None if expired else self._row(s, row.username)
            stale = now - row.last_seen > _TOUCH_EVERY_S
            info = None if user is None else SessionInfo(_user(user).principal, row.csrf_token)
        if info is None:
            with self._bookkeeping("deleting an expired session") as s:
                s.execute(delete(SessionRow).where(SessionRow.id == key))
        elif stale:
            with self._bookkeeping("a session's last-seen time") as s:
                fresh = s.get(SessionRow, key)
                if fresh is not None:
                    fresh.last_seen = now
        return info

    def end_session(self, cookie: str) -> None:
        with self.database.write() as s:
            s.execute(delete(SessionRow).where(SessionRow.id == _digest(cookie)))

    def sweep_sessions(self) -> int:
        """Delete expired sessions; returns how many."""
        now = self.clock()
        with self.database.write() as s:
            result = s.execute(
                delete(SessionRow).where(
                    (SessionRow.last_seen < now - self.session_idle_s)
                    | (SessionRow.created_at < now - self.session_max_s)
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # ---------------------------------------------------------------- API tokens

    def create_token(self, username: str, name: str | None = None) -> str:
        """A new API token of the user, named after what will use it (1-100 printable
        characters, unique among the user's tokens); only its hash is kept, so it is shown
        once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        if name is not None:
            name = _token_name(name)
        with self.database.write() as s:
            self._row_or_raise(s, username)
            if name is not None and s.scalar(
                select(ApiTokenRow.id).where(
                    ApiTokenRow.username == username, ApiTokenRow.name == name
                )
            ):
                raise TokenExistsError(f"{username} already has a token named {name!r}")
            row = ApiTokenRow(
                username=username, token_hash=_digest(token), created_at=self.clock(), name=name
            )
            s.add(row)
        return token

    def tokens(self, username: str) -> list[TokenInfo]:
        """The user's API tokens, oldest first."""
        with self.database.read() as s:
            self._row_or_raise(s, username)
            rows = s.scalars(
                select(ApiTokenRow)
                .where(ApiTokenRow.username == username)
                .order_by(ApiTokenRow.created_at, ApiTokenRow.id)
            ).all()
            return [TokenInfo(r.id, r.username, r.name, r.created_at, r.last_used) for r in rows]

    def revoke_token(self, username: str, token_id: int) -> TokenInfo:
        """Delete one API token of the user; returns what it was."""
        with self.database.write() as s:
            self._row_or_raise(s, username)
            row = s.scalar(
                select(ApiTokenRow).where(
                    ApiTokenRow.id == int(token_id), ApiTokenRow.username == username
                )
            )
            if row is None:
                raise UnknownTokenError(f"{username} has no API token {token_id}")
            info = TokenInfo(row.id, row.username, row.name, row.created_at, row.last_used)
            s.delete(row)
            return info

    def token(self, token: str) -> Principal | None:
        """The principal of a valid token (its user's role and cameras), else None."""
        key = _digest(token)
        with self.database.read() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == key))
            if row is None:
                return None
            user = self._row(s, row.username)
            principal = None if user is None else _user(user).principal
            stale = row.last_used is None or self.clock() - row.last_used > _TOUCH_EVERY_S
        if principal is not None and stale:
            with self._bookkeeping("a token's last-used time") as s:
                fresh = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == key))
                if fresh is not None:
                    fresh.last_used = self.clock()
        return principal

    def revoke_tokens(self, username: str) -> int:
        """Delete every API token of the user; returns how many."""
        with self.database.write() as s:
            self._row_or_raise(s, username)
            result = s.execute(delete(ApiTokenRow).where(ApiTokenRow.username == username))
            return int(getattr(result, "rowcount", 0) or 0)

    # ---------------------------------------------------------------- audit

    def record(
        self,
        username: str | None,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        client_ip: str | None = None,
    ) -> None:
        with self.database.write() as s:
            s.add(
                AuditRow(
                    time=self.clock(),
                    username=username,
                    action=action[:64],
                    target=target[:255],
                    detail=dict(detail or {}),
                    client_ip=None if client_ip is None else client_ip[:64],
                )
            )

    def audit_log(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        user: str | None = None,
        action: str | None = None,
    ) -> tuple[int, list[AuditEntry]]:
        """(total matching, a page of entries newest first)."""
        stmt = select(AuditRow)
        count = select(func.count()).select_from(AuditRow)
        if user is not None:
            stmt, count = (
                stmt.where(AuditRow.username == user),
                count.where(AuditRow.username == user),
            )
        if action is not None:
            stmt, count = (
                stmt.where(AuditRow.action == action),
                count.where(AuditRow.action == action),
            )
        stmt = stmt.order_by(AuditRow.time.desc(), AuditRow.id.desc()).limit(limit).offset(offset)
        with self.database.read() as s:
            total = int(s.scalar(count) or 0)
            rows = [
                AuditEntry(
                    r.id, r.time, r.username, r.action, r.target, dict(r.detail or {}), r.client_ip
                )
                for r in s.scalars(stmt)
            ]
        return total, rows

    # ---------------------------------------------------------------- helpers

    @contextlib.contextmanager
    def _bookkeeping(self, what: str) -> Iterator[Session]:
        """A write transaction whose failure (a full disk, a locked database) is logged, at
        most once a minute, and swallowed: bookkeeping never fails the request it serves."""
        try:
            with self.database.write() as s:
                yield s
        except SQLAlchemyError as err:
            now = time.monotonic()
            if now - self._bookkeeping_warned >= _TOUCH_WARN_EVERY_S:
                self._bookkeeping_warned = now
                _log.warning("auth: not saved: %s: %s", what, one_line_error(err))

    @staticmethod
    def _row(s: Session, username: str) -> UserRow | None:
        return s.scalar(select(UserRow).where(UserRow.username == username))

    def _row_or_raise(self, s: Session, username: str) -> UserRow:
        row = self._row(s, username)
        if row is None:
            raise UnknownUserError(f"unknown user {username!r}")
        return row

    @staticmethod
    def _keep_an_admin(s: Session, username: str) -> None:
        others = s.scalar(
            select(func.count())
            .select_from(UserRow)
            .where(UserRow.role == "admin", UserRow.username != username)
        )
        if not others:
            raise LastAdminError(f"user {username!r} is the last admin")

    @staticmethod
    def _end_sessions(s: Session, username: str) -> None:
        s.execute(delete(SessionRow).where(SessionRow.username == username))
