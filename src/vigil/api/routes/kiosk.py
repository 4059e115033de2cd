"""The analytics screen: ``GET /kiosk`` (the page) and ``GET /api/kiosk/data`` (its numbers),
opened with a read-only *display token* only; and the admin's ``/api/display-tokens``.

A display token (`vigil.kiosk.tokens`) reaches these two routes and nothing else: the rest of
the API looks bearer tokens up among the users' API tokens and reads the session cookie, never
the ``vigil_display`` cookie, so it refuses a display token as it refuses no credentials.
Opening ``/kiosk?token=...`` sets that cookie (HttpOnly) and redirects to ``/kiosk``, so the
token leaves the address bar. The page polls the data every second: one small read-only
request, its totals kept between calls (`vigil.kiosk.screen.ScreenCache`), rather than the
event WebSocket, which carries track ids, boxes and snapshot links a public screen must not
receive.
"""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from vigil.api.deps import Admin, State
from vigil.api.schemas import AUTH_ERRORS, ERROR_RESPONSES, Timestamp, bad_param
from vigil.api.web import TEMPLATES_DIR
from vigil.auth.policy import audit
from vigil.kiosk.screen import HOUR, MAX_HOURS, ScreenCache, ScreenData
from vigil.kiosk.tokens import DisplayToken, DisplayTokenError, DisplayTokens

__all__ = ["DISPLAY_COOKIE", "display_token", "presented_token", "router"]

DISPLAY_COOKIE = "vigil_display"
_PAGE = (TEMPLATES_DIR / "kiosk.html").read_text("utf-8")
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["kiosk"], responses=ERROR_RESPONSES)


def _tokens(connection: HTTPConnection) -> DisplayTokens:
    tokens: DisplayTokens = connection.app.state.display_tokens
    return tokens


def _presented(connection: HTTPConnection) -> str | None:
    """The display token the request carries: ``Authorization: Bearer``, the display cookie,
    or (the page only) the ``token`` query parameter."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    if connection.url.path == "/kiosk" and "token" in connection.query_params:
        return connection.query_params["token"]
    return connection.cookies.get(DISPLAY_COOKIE)


def presented_token(connection: HTTPConnection) -> DisplayToken | None:
    """The request's valid display token, None without one (a user's credentials are none)."""
    value = _presented(connection)
    return None if not value else _tokens(connection).check(value)


presented_token.vigil_policy = "display"  # type: ignore[attr-defined]  # see route_policy


def display_token(
    token: Annotated[DisplayToken | None, Depends(presented_token)],
) -> DisplayToken:
    """The request's valid display token; 401 without one."""
    if token is None:
        raise HTTPException(401, "needs a valid display token", {"WWW-Authenticate": "Bearer"})
    return token


Display = Annotated[DisplayToken, Depends(display_token)]


def _refusal(message: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Analytics screen · Vigil'
        '</title><link rel="stylesheet" href="/static/css/app.css"><main class="narrow">'
        f"<h1>Analytics screen</h1><p>{html.escape(message)}: open the screen's link that an "
        "admin created (<code>vigil users display-token add</code>).</p></main></html>"
    )
    return HTMLResponse(body, status_code=401, headers=_HEADERS)


@router.get("/kiosk", include_in_schema=False, response_model=None)
def kiosk_page(
    request: Request, display: Annotated[DisplayToken | None, Depends(presented_token)]
) -> Response:
    """The screen. ``?token=`` sets the display cookie and comes back without it."""
    if display is None:
        return _refusal("This screen needs a valid display token")
    if "token" in request.query_params:
        back = RedirectResponse("/kiosk", status_code=303, headers=_HEADERS)
        back.set_cookie(
            DISPLAY_COOKIE,
            request.query_params["token"],
            max_age=366 * 86400,  # a screen stays up; revoking the token ends it
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return back
    return HTMLResponse(_PAGE, headers=_HEADERS)


class CameraName(BaseModel):
    id: str
    name: str


class KioskData(ScreenData):
    names: list[CameraName] = Field(description="The screen's cameras and their names.")
    token: str = Field(description="The display token's name.")


def _midnight(now: float) -> float:
    """The server's local midnight before `now` (the page sends its own)."""
    local = datetime.fromtimestamp(now).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


@router.get("/api/kiosk/data", response_model=KioskData)
def kiosk_data(
    request: Request,
    display: Display,
    state: State,
    since: Annotated[
        Timestamp | None, Query(description="Start of the day shown; default: local midnight.")
    ] = None,
) -> KioskData:
    """Today's figures for the display token's cameras: crossings in and out per line and
    per hour, occupancy per zone against its capacity, dwell per zone and queue waits."""
    now = time.time()
    start = _midnight(now) if since is None else since
    if not now - MAX_HOURS * HOUR <= start <= now:
        raise bad_param("since", f"must be within the last {MAX_HOURS} hours", since)
    cameras = display.visible(state.cameras)
    cache: ScreenCache = request.app.state.screen_cache
    data = cache.data(state.events, state.site, cameras, start, now)
    names = [CameraName(id=c, name=state.cameras[c].name) for c in cameras]
    return KioskData(**data.model_dump(), names=names, token=display.name)


class DisplayTokenIn(BaseModel):
    name: str = Field(description="What the screen is (a lobby, a control room).")
    cameras: list[str] | None = Field(None, description="Cameras it shows; none: all.")


class DisplayTokenOut(BaseModel):
    name: str
    cameras: list[str] | None
    created_by: str | None
    created_at: float
    last_used: float | None


class DisplayTokenCreated(DisplayTokenOut):
    token: str = Field(description="The token, shown this once: only its hash is kept.")
    url: str = Field(description="The screen's link (path), with the token.")


def _out(token: DisplayToken) -> DisplayTokenOut:
    cameras = None if token.cameras is None else sorted(token.cameras)
    return DisplayTokenOut(
        name=token.name,
        cameras=cameras,
        created_by=token.created_by,
        created_at=token.created_at,
        last_used=token.last_used,
    )


@router.get("/api/display-tokens", response_model=list[DisplayTokenOut], responses=AUTH_ERRORS)
def list_display_tokens(request: Request, _: Admin) -> list[DisplayTokenOut]:
    """The analytics screens' display tokens (never their values)."""
    return [_out(t) for t in _tokens(request).tokens()]


@router.post(
    "/api/display-tokens",
    response_model=DisplayTokenCreated,
    status_code=201,
    responses=AUTH_ERRORS,
)
def add_display_token(
    body: DisplayTokenIn, request: Request, principal: Admin, state: State
) -> DisplayTokenCreated:
    """A new display token for an analytics screen (audited)."""
    unknown = [c for c in body.cameras or () if c not in state.cameras]
    if unknown:
        raise HTTPException(422, f"cameras: unknown camera {unknown[0]!r}")
    tokens = _tokens(request)
    try:
        value = tokens.create(body.name, body.cameras, created_by=principal.username)
    except DisplayTokenError as err:
        raise HTTPException(409 if "exists" in str(err) else 422, str(err)) from None
    audit(request, principal, "display_token.create", body.name, {"cameras": body.cameras})
    token = next(t for t in tokens.tokens() if t.name == body.name)
    return DisplayTokenCreated(**_out(token).model_dump(), token=value, url=f"/kiosk?token={value}")


@router.delete("/api/display-tokens/{name}", status_code=204, responses=AUTH_ERRORS)
def revoke_display_token(name: str, request: Request, principal: Admin) -> Response:
    """Revoke a display token: its screen stops at its next refresh (audited)."""
    try:
        _tokens(request).revoke(name)
    except DisplayTokenError as err:
        raise HTTPException(404, str(err)) from None
    audit(request, principal, "display_token.revoke", name)
    return Response(status_code=204)
