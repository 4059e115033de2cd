"""The dashboard's HTML pages: one shell per page, filled in by that page's ES module, and
``/docs``, the API's interactive documentation (Swagger UI served from this process).

Each page declares the least role that may open it (``allow(role)`` of `vigil.auth`, like
every API route); its navigation bar lists only the pages the user's role can open. The
data a page shows comes from the JSON API, which enforces roles and camera restrictions on
its own. ``/login`` and ``/setup`` are open: they only hold forms for the auth API.

FastAPI's own ``/docs`` (and ``/redoc``) load their scripts from a CDN, so the page stays blank
on a site without internet; ours uses the copy vendored by ``scripts/vendor_web.sh`` and the
dashboard's Content-Security-Policy (this site's files only).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.api.deps import State
from vigil.api.web import TEMPLATES_DIR
from vigil.auth import Principal, Role, allow, principal_or_none

__all__ = ["PAGES", "Page", "PageGuard", "api_docs", "page_router"]

_SHELL = Template((TEMPLATES_DIR / "shell.html").read_text("utf-8"))
_DOCS_HTML = (TEMPLATES_DIR / "docs.html").read_text("utf-8")
_CHART = ("/static/vendor/chart.js/chart.umd.min.js",)
_TIMELINE = (
    "/static/vendor/vis-timeline/vis-timeline-graph2d.min.css",
    "/static/vendor/vis-timeline/vis-timeline-graph2d.min.js",
)
# Pages load only this site's scripts, styles, images and media, and no other site may frame
# them (clickjacking). Inline styles stay allowed: vis-timeline sets some.
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Paths that are never pages: their errors stay JSON. The analytics screen explains its own.
_NOT_PAGES = ("/api/", "/static/", "/metrics", "/docs", "/redoc", "/openapi.json", "/kiosk")


@dataclass(frozen=True)
class Page:
    path: str
    module: str  # static/js/pages/<module>.js renders it
    title: str
    role: Role | None  # the least role that may open it; None: anyone
    in_nav: bool = True
    vendor: tuple[str, ...] = ()  # vendored scripts and styles it needs


PAGES: tuple[Page, ...] = (
    Page("/", "live", "Live", "viewer"),
    Page("/cameras/{camera_id}", "camera", "Camera", "viewer", in_nav=False),
    Page("/cameras/{camera_id}/zones", "zones", "Zones and lines", "admin", in_nav=False),
    Page("/events", "events", "Events", "viewer"),
    Page("/recordings", "recordings", "Recordings", "operator", vendor=_TIMELINE),
    Page("/analytics", "analytics", "Analytics", "viewer", vendor=_CHART),
    Page("/search", "search", "Search", "operator"),
    Page("/apps", "apps", "Apps", "operator"),
    Page("/store", "store", "Store", "operator"),
    Page("/system", "system", "System", "operator", vendor=_CHART),
    Page("/admin", "admin", "Admin", "admin"),
    Page("/account", "account", "Your account", "viewer", in_nav=False),
)
_OPEN_PAGES = (  # the forms that sign in
    Page("/login", "login", "Sign in", None, in_nav=False),
    Page("/setup", "setup", "Set up", None, in_nav=False),
)


def _vendor_tags(vendor: tuple[str, ...]) -> str:
    tags = []
    for url in vendor:
        if url.endswith(".css"):
            tags.append(f'<link rel="stylesheet" href="{url}">')
        else:
            tags.append(f'<script src="{url}" defer></script>')
    return "\n    ".join(tags)


def render(
    page: Page,
    principal: Principal | None,
    path_params: dict[str, Any],
    title: str = "",
    *,
    cluster: bool = False,
    time_zone: str | None = None,
) -> str:
    """The page's HTML: the shell with its title (default the page's), navigation and data
    attributes (the page's module, the user, the path parameters, whether the site is a
    cluster, the site's time zone) for its script."""
    nav = ""
    user = ""
    if principal is not None:
        links = []
        for p in PAGES:
            if p.in_nav and p.role is not None and principal.at_least(p.role):
                current = ' aria-current="page"' if p is page else ""
                links.append(f'<li><a href="{p.path}"{current}>{html.escape(p.title)}</a></li>')
        nav = f'<nav aria-label="Main"><ul>{"".join(links)}</ul></nav>'
        user = (
            f'<div class="who"><span><a href="/account" id="account" title="Your account">'
            f"{html.escape(principal.username)}</a>"
            f" <small>({html.escape(principal.role)})</small></span>"
            '<button type="button" id="logout" class="link">Sign out</button></div>'
        )
    data = {
        "page": page.module,
        "role": principal.role if principal else "",
        "user": principal.username if principal else "",
        "cluster": "true" if cluster else "",
        "time-zone": time_zone or "",
        **{k.replace("_", "-"): str(v) for k, v in path_params.items()},
    }
    attributes = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    return _SHELL.substitute(
        title=html.escape(title or page.title),
        vendor=_vendor_tags(page.vendor),
        nav=nav,
        user=user,
        attributes=attributes,
    )


def _page_route(page: Page) -> Any:
    assert page.role is not None
    signed_in = Depends(allow(page.role))

    async def route(
        request: Request, state: State, principal: Principal = signed_in
    ) -> HTMLResponse:
        params = dict(request.path_params)
        title = ""
        if "camera_id" in params:
            camera = state.camera(params["camera_id"])
            if camera is None:
                raise HTTPException(404, f"unknown camera {params['camera_id']!r}")
            title = camera.name if page.module == "camera" else f"{page.title}: {camera.name}"
        cluster = request.app.state.cluster is not None
        zone = state.site.server.zone_name() if state.site is not None else None
        html_text = render(page, principal, params, title, cluster=cluster, time_zone=zone)
        return HTMLResponse(html_text, headers=_SECURITY_HEADERS)

    return route


def _open_route(page: Page) -> Any:
    async def route() -> HTMLResponse:
        return HTMLResponse(render(page, None, {}), headers=_SECURITY_HEADERS)

    return route


async def api_docs(request: Request) -> HTMLResponse:
    """The Swagger UI page (public, like FastAPI's: the schema it loads holds no data)."""
    return HTMLResponse(_DOCS_HTML, headers=_SECURITY_HEADERS)


def page_router() -> APIRouter:
    """The pages (camera pages are titled with the camera's name)."""
    router = APIRouter(include_in_schema=False)
    for page in PAGES:
        route = _page_route(page)
        router.add_api_route(page.path, route, methods=["GET"], name=f"page_{page.module}")
    for page in _OPEN_PAGES:
        # Public: signed in or not, the form is shown (to sign in as someone else).
        router.add_api_route(
            page.path,
            _open_route(page),
            methods=["GET"],
            name=f"page_{page.module}",
            dependencies=[Depends(principal_or_none)],
        )
    return router


class PageGuard:
    """ASGI middleware for browsers (``Accept: text/html``) opening pages: without a session
    they are redirected to ``/login?next=<page>``; a page their role may not open, or one that
    does not exist (an unknown camera), gets a short HTML explanation instead of the API's
    JSON. Everything else passes through untouched (the streams included: only GETs of page
    paths are watched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_page_request(scope):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the original body, which our own response replaced
            status = message.get("status")
            if message["type"] == "http.response.start" and status in (401, *_EXPLAINED):
                replaced = True
                await _send_instead(status, scope, send)
                return
            await send(message)

        await self.app(scope, receive, guarded_send)


_EXPLAINED = {
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Not found", "There is no such page or camera here."),
}


def _is_page_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path: str = scope["path"]
    if path.startswith(_NOT_PAGES):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept


async def _send_instead(status: int, scope: Scope, send: Send) -> None:
    if status == 401:
        target = scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        location = "/login?next=" + quote(target, safe="")
        headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    title, text = _EXPLAINED[status]
    body = (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title} · Vigil</title>'
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/css/app.css"><main class="narrow">'
        f"<h1>{title}</h1><p>{text}</p>"
        '<p><a href="/">Back to the live view</a></p></main></html>'
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
