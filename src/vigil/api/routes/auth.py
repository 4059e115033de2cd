"""The auth API: login/logout/setup, users (admin), API tokens (admin), audit log (admin).

``POST /api/auth/login`` sets two cookies: ``vigil_session`` (HttpOnly, SameSite=Strict:
the session) and ``vigil_csrf`` (readable by the page's script, which echoes it in the
``X-CSRF-Token`` header of state-changing requests). Sessions end on logout (deleted on
the server), after `AuthStore.session_idle_s` unused, and after `session_max_s` in all.
Password guesses (logins, password changes) are limited per client address and per user
name (`LoginLimiter`: 429 with Retry-After). The first-run setup answers only requests made
on this machine, to a loopback host name, without any proxy's headers.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from vigil.auth.passwords import MAX_PASSWORD, MIN_PASSWORD, USERNAME_PATTERN
from vigil.auth.policy import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    allow,
    audit,
    auth_store,
    client_ip,
    route_policy,
)
from vigil.auth.principal import Principal, Role
from vigil.auth.ratelimit import LoginLimiter
from vigil.auth.store import (
    AuthError,
    LastAdminError,
    UnknownUserError,
    User,
    UserExistsError,
)
from vigil.config.schema import Name

__all__ = ["LOCAL_ADDRESSES", "document_security", "log_setup_hint", "router"]

log = logging.getLogger(__name__)

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

Username = Name
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]
#: What a new user's name and password must be (`vigil.auth.passwords` checks the rest).
NewUsername = Annotated[str, Field(pattern=USERNAME_PATTERN)]
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
CameraIds = Annotated[list[Name], Field(max_length=1000)]


class Credentials(BaseModel):
    username: Username
    password: Password


class Me(BaseModel):
    username: str
    role: Role
    cameras: list[str] | None = Field(description="Camera ids the user may see; null: all.")


class LoginOut(Me):
    csrf_token: str = Field(description="Send it as X-CSRF-Token on POST/PUT/PATCH/DELETE.")


class SetupNeeded(BaseModel):
    needed: bool


class UserIn(BaseModel):
    username: NewUsername
    password: NewPassword
    role: Role = "viewer"
    cameras: CameraIds | None = None


class UserPatch(BaseModel):
    """Only the fields given change; ``cameras: null`` lifts the camera restriction."""

    role: Role | None = None
    cameras: CameraIds | None = None
    password: NewPassword | None = None


class UserOut(BaseModel):
    username: str
    role: Role
    cameras: list[str] | None
    created_at: float
    updated_at: float


class TokenOut(BaseModel):
    token: str = Field(description="Shown once: only its hash is kept.")


class AuditOut(BaseModel):
    id: int
    time: float
    username: str | None
    action: str
    target: str
    detail: dict[str, Any]
    client_ip: str | None


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AuditOut]


router = APIRouter(tags=["auth"])
_errors: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not allowed"},
}


def _cameras(cameras: frozenset[str] | None) -> list[str] | None:
    return None if cameras is None else sorted(cameras)


def _user_out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        role=user.role,
        cameras=_cameras(user.cameras),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _limiter(request: Request) -> LoginLimiter:
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = request.app.state.login_limiter = LoginLimiter()
    return limiter


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
        username=user.username, role=user.role, cameras=_cameras(user.cameras), csrf_token=csrf
    )


def _user_error(err: Exception) -> HTTPException:
    if isinstance(err, UnknownUserError):
        return HTTPException(404, str(err))
    if isinstance(err, (UserExistsError, LastAdminError)):
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


@router.post("/api/auth/logout", status_code=204, responses=_errors)
def logout(request: Request, principal: Annotated[Principal, Depends(allow("viewer"))]) -> Response:
    """End the session (on the server too) and clear its cookies."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and "authorization" not in request.headers:
        auth_store(request).end_session(cookie)
    audit(request, principal, "logout", principal.username)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/auth/me", response_model=Me, responses=_errors)
def me(principal: Annotated[Principal, Depends(allow("viewer"))]) -> Me:
    """Who the request acts for."""
    return Me(username=principal.username, role=principal.role, cameras=_cameras(principal.cameras))


class PasswordChange(BaseModel):
    current: Password
    new: NewPassword


@router.post("/api/auth/password", status_code=204, responses=_errors)
def change_password(
    body: PasswordChange,
    request: Request,
    principal: Annotated[Principal, Depends(allow("viewer"))],
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
        raise _user_error(err) from None
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


# --------------------------------------------------------------------------- users


@router.get("/api/users", response_model=list[UserOut], responses=_errors)
def list_users(request: Request, _: Annotated[Principal, Depends(allow("admin"))]) -> list[UserOut]:
    """Every user with their role and cameras."""
    return [_user_out(u) for u in auth_store(request).users()]


@router.post("/api/users", response_model=UserOut, status_code=201, responses=_errors)
def add_user(
    body: UserIn, request: Request, principal: Annotated[Principal, Depends(allow("admin"))]
) -> UserOut:
    """A new user."""
    try:
        user = auth_store(request).add_user(body.username, body.password, body.role, body.cameras)
    except (ValueError, AuthError) as err:
        raise _user_error(err) from None
    audit(
        request,
        principal,
        "user.add",
        user.username,
        {"role": user.role, "cameras": _cameras(user.cameras)},
    )
    return _user_out(user)


@router.patch("/api/users/{username}", response_model=UserOut, responses=_errors)
def update_user(
    username: str,
    body: UserPatch,
    request: Request,
    principal: Annotated[Principal, Depends(allow("admin"))],
) -> UserOut:
    """Change a user's role, cameras or password (a new role or password ends their
    sessions)."""
    given = body.model_fields_set
    try:
        user = auth_store(request).update_user(
            username,
            role=body.role if "role" in given else None,
            cameras=body.cameras if "cameras" in given else None,
            all_cameras="cameras" in given and body.cameras is None,
            password=body.password if "password" in given else None,
        )
    except (ValueError, AuthError) as err:
        raise _user_error(err) from None
    detail: dict[str, Any] = {}
    if "role" in given:
        detail["role"] = user.role
    if "cameras" in given:
        detail["cameras"] = _cameras(user.cameras)
    if "password" in given:
        detail["password"] = "changed"
    audit(request, principal, "user.update", username, detail)
    return _user_out(user)


@router.delete("/api/users/{username}", status_code=204, responses=_errors)
def remove_user(
    username: str, request: Request, principal: Annotated[Principal, Depends(allow("admin"))]
) -> Response:
    """Delete a user with their sessions and API tokens (never the last admin)."""
    try:
        auth_store(request).remove_user(username)
    except AuthError as err:
        raise _user_error(err) from None
    audit(request, principal, "user.remove", username)
    return Response(status_code=204)


@router.post(
    "/api/users/{username}/tokens", response_model=TokenOut, status_code=201, responses=_errors
)
def create_token(
    username: str, request: Request, principal: Annotated[Principal, Depends(allow("admin"))]
) -> TokenOut:
    """A new API token acting as the user (``Authorization: Bearer <token>``)."""
    try:
        token = auth_store(request).create_token(username)
    except AuthError as err:
        raise _user_error(err) from None
    audit(request, principal, "token.create", username)
    return TokenOut(token=token)


class RevokedOut(BaseModel):
    revoked: int


@router.delete("/api/users/{username}/tokens", response_model=RevokedOut, responses=_errors)
def revoke_tokens(
    username: str, request: Request, principal: Annotated[Principal, Depends(allow("admin"))]
) -> RevokedOut:
    """Revoke every API token of the user."""
    try:
        revoked = auth_store(request).revoke_tokens(username)
    except AuthError as err:
        raise _user_error(err) from None
    audit(request, principal, "token.revoke", username, {"revoked": revoked})
    return RevokedOut(revoked=revoked)


# --------------------------------------------------------------------------- audit


@router.get("/api/audit", response_model=AuditPage, responses=_errors)
def audit_log(
    request: Request,
    _: Annotated[Principal, Depends(allow("admin"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Logins, failed logins, playback, exports, config and user changes, newest first."""
    total, entries = auth_store(request).audit_log(
        limit=limit, offset=offset, user=user, action=action
    )
    return AuditPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[AuditOut(**asdict(e)) for e in entries],
    )


def log_setup_hint(app: FastAPI, port: int, site_file: Path | None) -> None:
    """While no user exists, log how to create the first admin."""
    if not app.state.auth.has_users():
        config = f" -c {site_file}" if site_file is not None else " -c SITE"
        log.warning(
            "no accounts yet: open http://127.0.0.1:%d/setup from this machine or run "
            "`vigil users add NAME --admin%s`",
            port,
            config,
        )


def document_security(app: FastAPI) -> None:
    """Name the two ways to authenticate in the app's OpenAPI schema (the docs page's
    "Authorize" button), on every operation whose route needs a role."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "token": {"type": "http", "scheme": "bearer", "description": "An API token."},
            "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
        }
        paths = schema.get("paths", {})
        for context in iter_route_contexts(app.routes):
            if not isinstance(context.original_route, APIRoute):
                continue
            if route_policy(context.dependant) in (None, "public"):
                continue
            for method in context.methods:
                operation = paths.get(context.path, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{"token": []}, {"session": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
