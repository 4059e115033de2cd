"""The auth API: login, logout, the current user, password change and the first-run setup.

``POST /api/auth/login`` sets two cookies: ``vigil_session`` (HttpOnly, SameSite=Strict:
the session) and ``vigil_csrf`` (readable by the page's script, which echoes it in the
``X-CSRF-Token`` header of state-changing requests). Sessions end on logout (deleted on
the server), after `AuthStore.session_idle_s` unused, and after `session_max_s` in all.
Password guesses (logins, password changes) are limited per client address and per user
name (`LoginLimiter`: 429 with Retry-After). The first-run setup answers only requests made
on this machine, to a loopback host name, without any proxy's headers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response

from vigil.api.deps import Viewer
from vigil.api.schemas import AUTH_ERRORS, Credentials, LoginOut, Me, PasswordChange, SetupNeeded
from vigil.auth.policy import CSRF_COOKIE, SESSION_COOKIE, audit, auth_store, client_ip
from vigil.auth.ratelimit import LoginLimiter
from vigil.auth.store import (
    AuthError,
    LastAdminError,
    TokenExistsError,
    UnknownTokenError,
    UnknownUserError,
    User,
    UserExistsError,
)

__all__ = ["LOCAL_ADDRESSES", "camera_list", "router", "user_error"]

#: Where the first-run setup may come from: the machine itself.
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
#: The host names the setup may be asked for by: another name that resolves to this machine
#: is a DNS-rebinding page in the user's browser.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Headers that proxies and CDNs add: a request carrying any of them came through one.
PROXY_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "client-ip",
        "x-original-forwarded-for",
    }
)

router = APIRouter(tags=["auth"])


def camera_list(cameras: frozenset[str] | None) -> list[str] | None:
    return None if cameras is None else sorted(cameras)


def _limiter(request: Request) -> LoginLimiter:
    return auth_store(request).logins  # in the database: every replica counts the same


def _count_guess(request: Request, username: str, what: str) -> None:
    """Count a password guess for `username` before it is checked; 429 when over a limit."""
    wait = _limiter(request).attempt(client_ip(request), username)
    if wait is not None:
        raise HTTPException(
            429, f"too many failed {what}: retry in {wait} s", headers={"Retry-After": str(wait)}
        )


def _host_name(netloc: str) -> str:
    """``[::1]:8971`` -> ``::1``; ``LocalHost:80`` -> ``localhost``."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if netloc.count(":") == 1 else netloc


def _from_this_machine(request: Request) -> bool:
    """Sent from a loopback address, to a loopback host name (not a DNS-rebinding name), by
    a page of this machine (if a browser names its origin), and through no proxy."""
    headers = request.headers
    if client_ip(request) not in LOCAL_ADDRESSES:
        return False
    if any(name in PROXY_HEADERS or name.startswith("x-forwarded-") for name in headers):
        return False  # a reverse proxy on this machine is not "local"
    if _host_name(headers.get("host", "")) not in LOCAL_HOSTS:
        return False
    origin = headers.get("origin")
    return origin is None or _host_name(urlsplit(origin).netloc) in LOCAL_HOSTS


def _start_session(request: Request, response: Response, user: User) -> LoginOut:
    store = auth_store(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.end_session(old)
    store.sweep_sessions()  # expired sessions nobody came back to
    cookie, csrf = store.create_session(user.username, client_ip(request))
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, samesite="strict", secure=secure, path="/"
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        username=user.username, role=user.role, cameras=camera_list(user.cameras), csrf_token=csrf
    )


def user_error(err: Exception) -> HTTPException:
    if isinstance(err, (UnknownUserError, UnknownTokenError)):
        return HTTPException(404, str(err))
    if isinstance(err, (UserExistsError, LastAdminError, TokenExistsError)):
        return HTTPException(409, str(err))
    return HTTPException(422, str(err))


# --------------------------------------------------------------------------- session


@router.post(
    "/api/auth/login",
    response_model=LoginOut,
    responses={
        401: {"description": "Wrong user name or password"},
        429: {"description": "Too many failed logins"},
    },
)
def login(body: Credentials, request: Request, response: Response) -> LoginOut:
    """Log in: sets the session and CSRF cookies."""
    _count_guess(request, body.username, "logins")
    user = auth_store(request).authenticate(body.username, body.password)
    if user is None:
        audit(request, None, "login.failed", body.username)
        raise HTTPException(401, "wrong user name or password")
    _limiter(request).succeeded(client_ip(request), body.username)
    out = _start_session(request, response, user)
    audit(request, user.principal, "login", user.username)
    return out


@router.post("/api/auth/logout", status_code=204, responses=AUTH_ERRORS)
def logout(request: Request, principal: Viewer) -> Response:
    """End the session (on the server too) and clear its cookies."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and "authorization" not in request.headers:
        auth_store(request).end_session(cookie)
    audit(request, principal, "logout", principal.username)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/auth/me", response_model=Me, responses=AUTH_ERRORS)
def me(principal: Viewer) -> Me:
    """Who the request acts for."""
    return Me(
        username=principal.username, role=principal.role, cameras=camera_list(principal.cameras)
    )


@router.post("/api/auth/password", status_code=204, responses=AUTH_ERRORS)
def change_password(
    body: PasswordChange,
    request: Request,
    principal: Viewer,
) -> Response:
    """Change one's own password (the current one is asked again). Every session of the
    user ends, this one too: log in again with the new password."""
    store = auth_store(request)
    _count_guess(request, principal.username, "password changes")
    if store.authenticate(principal.username, body.current) is None:
        audit(request, principal, "password.failed", principal.username)
        raise HTTPException(403, "the current password is wrong")
    _limiter(request).succeeded(client_ip(request), principal.username)
    try:
        store.update_user(principal.username, password=body.new)
    except (ValueError, AuthError) as err:
        raise user_error(err) from None
    audit(request, principal, "password.change", principal.username)
    return Response(status_code=204)


@router.get("/api/auth/setup-needed", response_model=SetupNeeded)
def setup_needed(request: Request) -> SetupNeeded:
    """True until the first user exists (then the setup page is closed)."""
    return SetupNeeded(needed=not auth_store(request).has_users())


@router.post(
    "/api/auth/setup",
    response_model=LoginOut,
    status_code=201,
    responses={
        403: {"description": "Not from this machine, or a user exists"},
        422: {"description": "Weak password or bad name"},
    },
)
def setup(body: Credentials, request: Request, response: Response) -> LoginOut:
    """Create the first admin (only from this machine, only while no user exists) and log
    in as them."""
    if not _from_this_machine(request):
        raise HTTPException(
            403, "setup is only possible from this machine (http://127.0.0.1 or http://localhost)"
        )
    if auth_store(request).has_users():
        raise HTTPException(403, "setup is closed: a user already exists")
    try:
        user = auth_store(request).add_user(
            body.username, body.password, "admin", only_if_first=True
        )
    except AuthError:  # a user exists (maybe since a moment ago)
        raise HTTPException(403, "setup is closed: a user already exists") from None
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    audit(request, user.principal, "setup", user.username)
    return _start_session(request, response, user)
