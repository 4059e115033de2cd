"""FastAPI dependencies that authenticate a request and enforce its role and cameras.

    from vigil.auth import allow, Principal, audit

    @router.get("/api/x/{camera_id}")
    def route(principal: Principal = Depends(allow("operator"))): ...

A request authenticates with ``Authorization: Bearer <API token>`` or with the session
cookie set by ``POST /api/auth/login``. With the cookie, POST/PUT/PATCH/DELETE must also
send the session's CSRF token in ``X-CSRF-Token`` (the cookie ``vigil_csrf`` holds it for
the page's script): a cross-site page can make the browser send the cookie, but cannot read
the token. A camera-restricted user is refused any other camera named by a ``camera_id``
path parameter or a ``camera`` query parameter; routes that list several cameras filter
with `Principal.can_see` themselves.

The `AuthStore` is ``app.state.auth`` (set by `vigil.api.app.create_app`).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, WebSocketException
from starlette.requests import HTTPConnection

from vigil.auth.principal import ROLES, Principal, Role, check_role
from vigil.auth.store import AuthStore

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "allow",
    "audit",
    "auth_store",
    "client_ip",
    "StillAllowed",
    "principal_or_none",
    "route_policy",
]

SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WS_POLICY_VIOLATION = 1008
STREAM_RECHECK_S = 5.0  # how often a long stream checks that its credentials still hold


def auth_store(connection: HTTPConnection) -> AuthStore:
    store = getattr(connection.app.state, "auth", None)
    if not isinstance(store, AuthStore):
        raise RuntimeError("app.state.auth is not set: build the app with create_app")
    return store


def client_ip(connection: HTTPConnection) -> str | None:
    """The peer's address: a reverse proxy's own, unless it is one of the site's
    ``server.trusted_proxies`` (then the client its ``X-Forwarded-For`` names)."""
    return connection.client.host if connection.client else None


def _deny(connection: HTTPConnection, status: int, message: str) -> Exception:
    if connection.scope["type"] == "websocket":
        return WebSocketException(_WS_POLICY_VIOLATION, reason=message)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, message, headers=headers)


def _authenticate(connection: HTTPConnection) -> Principal | None:
    """The principal of the request's bearer token or session cookie; None without
    either; 401 for a bad token or an expired session; 403 for a missing CSRF token."""
    store = auth_store(connection)
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        principal = store.token(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise _deny(connection, 401, "invalid API token")
        return principal
    cookie = connection.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    if connection.scope["type"] == "websocket" and not _same_origin(connection):
        # A WebSocket has no CSRF token: refuse a handshake another site's page started.
        raise _deny(connection, 403, "cross-origin WebSocket refused")
    session = store.session(cookie)
    if session is None:
        raise _deny(connection, 401, "session expired: log in again")
    if connection.scope["type"] == "http" and connection.scope["method"] in _UNSAFE:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise _deny(connection, 403, f"missing or wrong {CSRF_HEADER} header")
    return session.principal


def _same_origin(connection: HTTPConnection) -> bool:
    """True unless the request names an Origin whose host:port differs from its Host."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc.lower() == connection.headers.get("host", "").lower()


def allow(min_role: Role) -> Callable[..., Principal]:
    """A dependency admitting principals of `min_role` or above (admin > operator >
    viewer) that may see the camera the request names; returns the `Principal`."""
    check_role(min_role)

    def dependency(connection: HTTPConnection) -> Principal:
        principal = _authenticate(connection)
        if principal is None:
            raise _deny(connection, 401, "not authenticated")
        if not principal.at_least(min_role):
            raise _deny(connection, 403, f"needs the {min_role} role")
        named = connection.query_params.getlist("camera")  # every one, if repeated
        if "camera_id" in connection.path_params:
            named.append(connection.path_params["camera_id"])
        for camera in named:
            if not principal.can_see(camera):
                raise _deny(connection, 403, f"no access to camera {camera!r}")
        connection.state.principal = principal
        return principal

    dependency.vigil_policy = min_role  # type: ignore[attr-defined]  # see `route_policy`
    dependency.__name__ = f"allow_{min_role}"
    return dependency


def principal_or_none(connection: HTTPConnection) -> Principal | None:
    """The request's principal, or None when it carries no valid credentials: for public
    pages that show a login form instead of refusing."""
    try:
        return _authenticate(connection)
    except (HTTPException, WebSocketException):
        return None


principal_or_none.vigil_policy = "public"  # type: ignore[attr-defined]


def audit(
    request: HTTPConnection,
    principal: Principal | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record in the audit log who (`principal`, None: anonymous) did `action` on
    `target`, from the request's client address."""
    auth_store(request).record(
        None if principal is None else principal.username,
        action,
        target,
        detail,
        client_ip(request),
    )


def route_policy(dependant: Any) -> str | None:
    """The policy a route's dependencies declare: its least role ("viewer", "operator",
    "admin"; the highest when several), "display" (a display token), "public"
    (`principal_or_none` only), or None."""
    found: set[str] = set()
    stack = list(dependant.dependencies)
    while stack:
        sub = stack.pop()
        policy = getattr(sub.call, "vigil_policy", None)
        if policy is not None:
            found.add(policy)
        stack.extend(sub.dependencies)
    roles = [r for r in reversed(ROLES) if r in found]
    if roles:
        return roles[0]
    # "display": a display token's only (the analytics screen, `vigil.api.routes.kiosk`).
    return "display" if "display" in found else ("public" if found else None)


class StillAllowed:
    """For a long stream (MJPEG, WebSocket): whether the credentials that opened it still
    admit it: not logged out or expired, the user not removed, demoted or restricted since.
    Awaited in the stream's loop; looks at the database at most every `STREAM_RECHECK_S`."""

    def __init__(self, connection: HTTPConnection, principal: Principal, min_role: Role) -> None:
        self.principal = principal
        """As of the latest check (a stream filtering by camera follows its changes)."""
        self._connection = connection
        self._check = allow(min_role)
        self._every = STREAM_RECHECK_S
        self._last = time.monotonic()

    async def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._every:
            return True
        self._last = now
        return await asyncio.to_thread(self._admitted)

    def _admitted(self) -> bool:
        try:
            self.principal = self._check(self._connection)
        except (HTTPException, WebSocketException):
            return False
        return True
