"""The HTTP API of `vigil serve` (FastAPI; schema at ``/openapi.json``, docs at ``/docs``).

`create_app(state)` builds the application from a `ServiceState` (the site as the supervisor
sees it); it knows nothing of the server, so the supervisor runs it with uvicorn (bound to
127.0.0.1 by default) and the tests with a TestClient. One router per domain
(`vigil.api.routes`), typed dependencies (`vigil.api.deps`), the bodies in
`vigil.api.schemas`:

* ``/api/health``, ``/metrics``, ``/api/cluster`` (`routes.system`); ``/api/cameras``
  (`routes.cameras`)
* live JPEGs, MJPEG and the WebSockets ``/api/ws`` and ``/api/live`` (`routes.live`)
* ``/api/events`` with snapshots and clips (`routes.events`); ``/api/counts``
* ``/api/recordings``: segments, exports and export jobs (`routes.recordings`)
* a camera's zones, lines and apps (`routes.config`); ``/api/apps``; the app store
  ``/api/store`` (`routes.store`)
* ``/api/auth/*``, ``/api/users``, ``/api/audit``; the dashboard's pages (`routes.pages`)
* the analytics screen ``/kiosk`` and ``/api/kiosk/data``, display tokens (`routes.kiosk`)

Every route but ``/api/health`` and the login and first-run setup needs a user
(`vigil.auth`: session cookie or API token; viewer, operator or admin; optionally limited to
some cameras). Unknown cameras and events are 404 ``{"detail": "..."}``; malformed
parameters are FastAPI's 422; the `VigilError` kinds a route lets through are mapped to
their status here (`ERROR_STATUS`).

Everything that touches the database or the disk is a plain ``def`` route (FastAPI runs
those in its thread pool) or awaits `run_in_threadpool`; the ``async`` routes never block
the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import vigil
from vigil.api.body_limits import BodyGuard, safe_validation_errors
from vigil.api.cluster import ClusterControl, NodeFiles, NodeUnavailable
from vigil.api.deps import SiteControl
from vigil.api.exports import ExportJobs, TooManyExports
from vigil.api.live import LiveViewers
from vigil.api.metrics import create_registry
from vigil.api.routes import (
    apps,
    audit,
    auth,
    cameras,
    config,
    counts,
    events,
    heatmaps,
    kiosk,
    live,
    pages,
    privacy,
    recordings,
    review,
    search,
    store,
    system,
    users,
)
from vigil.api.state import ServiceState
from vigil.api.web import STATIC_DIR
from vigil.appstore.jobs import InstallJobs
from vigil.auth import AuthStore
from vigil.auth.policy import SESSION_COOKIE, route_policy
from vigil.config.editor import EditConflict, UnknownApp, UnknownCamera
from vigil.errors import ConfigError, VigilError
from vigil.kiosk.screen import ScreenCache
from vigil.kiosk.tokens import DisplayTokens

__all__ = ["ERROR_STATUS", "create_app", "document_security", "log_setup_hint"]

log = logging.getLogger(__name__)

#: The HTTP status of each `VigilError` kind a route lets through (first match wins).
ERROR_STATUS: tuple[tuple[type[VigilError], int], ...] = (
    (UnknownCamera, 404),
    (UnknownApp, 404),
    (EditConflict, 409),
    (ConfigError, 422),
    (TooManyExports, 429),
    (NodeUnavailable, 503),
)
ROUTERS = (
    auth.router,
    users.router,
    audit.router,
    config.router,
    apps.router,
    store.router,
    system.router,
    cameras.router,
    live.router,
    events.router,
    review.router,
    recordings.router,
    counts.router,
    privacy.router,
    search.router,
    heatmaps.router,
    kiosk.router,
)
DESCRIPTION = (
    "The live API of `vigil serve`: cameras and their status, events with snapshots "
    "and clips, recordings, counts, live views and metrics.\n\n"
    "`WS /api/ws` (not listed below: OpenAPI has no WebSockets) streams JSON "
    'messages `{"kind": "event", ...}` and `{"kind": "objects", ...}`; query '
    "`camera=<id>` keeps one camera, `objects=false` events only. `WS /api/live` "
    "sends every camera's live JPEG as binary messages (camera id, newline, JPEG), "
    "at most `fps` (default 5) per camera per second."
)


def create_app(
    state: ServiceState,
    auth: AuthStore | None = None,
    trusted_proxies: Sequence[str] = (),
    *,
    site: SiteControl | None = None,
    live_demand: Callable[[str, bool, bool], None] | None = None,
    cluster: ClusterControl | None = None,
) -> FastAPI:
    """The API over `state`, with ``/metrics`` and the dashboard; independent of the server
    that runs it.

    `auth` defaults to an `AuthStore` on the events database. `site`: the service running
    the site file, which applies the config routes' edits (None: they are refused).
    `live_demand(camera, wanted, unmasked)`: told when a camera's live view gains its first
    viewer (or first one entitled to it unmasked) and loses its last (`LiveViewers`). `cluster`: the cluster head, when the site runs on
    several nodes (`vigil.api.cluster`; None: a single box). Request bodies are capped and checked
    (`vigil.api.body_limits`). ``X-Forwarded-For`` is believed only from `trusted_proxies`
    (addresses or networks; by default the site's ``server.trusted_proxies``): from anyone
    else it would let a client pick the address that login limits and the audit log see.
    """
    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: the dashboard serves its own
        redoc_url=None,  # ReDoc too: a CDN, and /docs covers it
        description=DESCRIPTION,
    )
    app.state.vigil = state
    app.state.auth = auth if auth is not None else AuthStore(state.events.database)
    app.state.site_control = site
    app.state.cluster = cluster
    app.state.node_files = NodeFiles(cluster)
    app.state.live_viewers = LiveViewers(live_demand)
    app.state.export_jobs = ExportJobs(state.exports_dir)
    app.state.store_jobs = InstallJobs()
    app.state.display_tokens = DisplayTokens(state.events.database)
    app.state.screen_cache = ScreenCache()
    app.state.metrics_registry = create_registry(state)
    app.state.live_streams = 0
    app.state.ws_clients = 0
    app.add_middleware(BodyGuard)
    app.add_exception_handler(RequestValidationError, safe_validation_errors)
    for kind, _ in ERROR_STATUS:
        app.add_exception_handler(kind, _vigil_error)
    proxies = list(trusted_proxies or (state.site.server.trusted_proxies if state.site else []))
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    for router in ROUTERS:
        app.include_router(router)
    document_security(app)
    _mount_dashboard(app)
    return app


async def _vigil_error(request: Request, exc: Exception) -> JSONResponse:
    """A `VigilError` of a kind in `ERROR_STATUS` as that status and its one line."""
    status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=status)


def _mount_dashboard(app: FastAPI) -> None:
    """The dashboard: pages at ``/``, ``/login``, ..., the API's docs at ``/docs``, the
    static files at ``/static``, and `PageGuard` (a browser without a session goes to
    ``/login``; a refused or unknown page is explained in HTML)."""
    app.include_router(pages.page_router())
    app.add_route("/docs", pages.api_docs, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(pages.PageGuard)


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
            policy = route_policy(context.dependant)
            if policy in (None, "public"):
                continue
            # the analytics screen's data takes a display token, as a bearer token
            schemes: list[dict[str, list[str]]] = [{"token": []}]
            if policy != "display":
                schemes.append({"session": []})
            for method in context.methods or ():
                operation = paths.get(context.path, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = schemes
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
