"""Every route of the app, as every role: the authorization matrix.

The routes come from `app.routes` of the real `create_app` (with every router other
packages include), so a new route that declares no policy (`vigil.auth.allow` or
`principal_or_none`) and is not in `PUBLIC` fails `test_every_route_declares_a_policy`,
and every declared one is checked as anonymous, viewer, operator, admin and a
camera-restricted operator: allowed, or 401/403 as its policy says. The analytics screen's
display token (`vigil.api.routes.kiosk`) opens its two routes and is refused by every other,
as a bearer token and as its cookie.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deployment import USERS, Deployment, build
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route
from starlette.websockets import WebSocketDisconnect

from vigil.api.routes.kiosk import DISPLAY_COOKIE
from vigil.auth.policy import route_policy
from vigil.auth.principal import role_at_least
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.events.review_store import ReviewStore

#: Routes without a login, by design: liveness, logging in, and the first-run setup.
PUBLIC = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/setup-needed"),
    ("POST", "/api/auth/setup"),
}
#: FastAPI's own schema and docs pages, and the dashboard's static files (no data in them).
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
STATIC = {"/static"}
WHO = [None, *USERS]
#: What a display token opens: the analytics screen and its data, nothing else.
DISPLAY = {("GET", "/kiosk"), ("GET", "/api/kiosk/data")}


@dataclass(frozen=True)
class Endpoint:
    method: str  # "WS" for a WebSocket
    path: str
    policy: str | None  # the least role, "public" (principal_or_none), None: undeclared
    query: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route, those of included routers too (as FastAPI's OpenAPI walks them)."""
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, (APIRoute, APIWebSocketRoute)):
            dependant = context.dependant
            query = tuple(p.alias for p in dependant.query_params)
            methods = ["WS"] if isinstance(route, APIWebSocketRoute) else context.methods
            for method in sorted(set(methods) - {"HEAD"}):
                out.append(Endpoint(method, context.path, route_policy(dependant), query))
        elif isinstance(route, Mount):
            out.append(Endpoint("MOUNT", context.path, None, ()))
        elif isinstance(route, Route):
            for method in sorted(set(context.methods or {"GET"}) - {"HEAD"}):
                out.append(Endpoint(method, context.path, None, ()))
    return out


def _collect() -> list[Endpoint]:
    with tempfile.TemporaryDirectory() as tmp, Database(":memory:") as database:
        store = EventStore(database)
        return endpoints(build(Path(tmp), store).app)


ENDPOINTS = _collect()
CHECKED = [e for e in ENDPOINTS if e.policy is not None or (e.method, e.path) in PUBLIC]
#: The app store: operators browse the catalogs, only admins change what is installed.
STORE_POLICIES = {
    ("GET", "/api/store"): "operator",
    ("POST", "/api/store/installs"): "admin",
    ("GET", "/api/store/installs"): "admin",
    ("GET", "/api/store/installs/{job_id}"): "admin",
    ("DELETE", "/api/store/apps/{app_id}"): "admin",
}


def test_every_route_declares_a_policy() -> None:
    undeclared = [
        str(e)
        for e in ENDPOINTS
        if e.policy is None
        and (e.method, e.path) not in PUBLIC
        and e.path not in FRAMEWORK
        and not (e.method == "MOUNT" and e.path in STATIC)
    ]
    assert undeclared == [], "routes without allow(...): " + ", ".join(undeclared)
    public = {(e.method, e.path) for e in ENDPOINTS if e.policy is None}
    assert public >= PUBLIC  # no stale entries, and none of them asks for a login
    assert len(CHECKED) > 20


def test_only_the_screen_takes_a_display_token() -> None:
    assert {(e.method, e.path) for e in ENDPOINTS if e.policy == "display"} == DISPLAY


def test_store_routes_declare_their_roles() -> None:
    declared = {(e.method, e.path): e.policy for e in ENDPOINTS if e.path.startswith("/api/store")}
    assert declared == STORE_POLICIES


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One for the module: the requests below change nothing."""
    tmp = tmp_path_factory.mktemp("matrix")
    with Database(f"sqlite:///{tmp / 'vigil.db'}") as database:
        store = EventStore(database)
        deployment = build(tmp, store)
        deployment.tokens["display"] = deployment.app.state.display_tokens.create("lobby")
        yield deployment


def url_for(endpoint: Endpoint, deployment: Deployment, camera: str) -> str:
    event_id = deployment.events[camera].id
    values = {
        "camera_id": camera,
        "event_id": event_id,
        # its review item (marking it reviewed changes only the caller's own mark)
        "item_id": ReviewStore(deployment.state.events.database).item_of(event_id) or "",
        "username": "nobody-here",  # never a real user: the call must not change anything
        "token_id": "999999",  # nor a real token
    }
    path = endpoint.path
    while "{" in path:
        name = path[path.index("{") + 1 : path.index("}")]
        path = path.replace("{" + name + "}", values.get(name.split(":")[0], "x"))
    query = []
    if "camera" in endpoint.query:
        query.append(f"camera={camera}")
    if "frames" in endpoint.query:
        query.append("frames=1")  # a stream ends after one frame
    return path + ("?" + "&".join(query) if query else "")


def call(deployment: Deployment, who: str | None, endpoint: Endpoint, url: str) -> int:
    """The status of the request (a WebSocket: 101 accepted, 403 refused); no body, so a
    state-changing route that lets the request through answers 422 and changes nothing."""
    client = deployment.client(who, client=("203.0.113.9", 50000))
    if endpoint.method == "WS":
        try:
            with client.websocket_connect(url):
                return 101
        except WebSocketDisconnect as err:
            assert err.code == 1008, err
            return 403
    return client.request(endpoint.method, url).status_code


def expected_denial(endpoint: Endpoint, who: str | None) -> int | None:
    """401/403 when the policy refuses `who`, None when it lets them through."""
    if endpoint.policy in (None, "public"):
        return None
    if endpoint.policy == "display":  # a user's credentials are not a display token
        return 403 if endpoint.method == "WS" else 401
    if who is None:
        return 403 if endpoint.method == "WS" else 401
    return None if role_at_least(USERS[who][0], endpoint.policy) else 403


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize("endpoint", CHECKED, ids=str)
def test_route_policy(deployment: Deployment, endpoint: Endpoint, who: str | None) -> None:
    status = call(deployment, who, endpoint, url_for(endpoint, deployment, "cam1"))
    denial = expected_denial(endpoint, who)
    if denial is None:
        assert status not in (401, 403), (str(endpoint), who, status)
        assert status < 500
    else:
        assert status == denial, (str(endpoint), who, status)


@pytest.mark.parametrize("carried", ["bearer", "cookie"])
@pytest.mark.parametrize("endpoint", CHECKED, ids=str)
def test_display_token_opens_only_the_screen(
    deployment: Deployment, endpoint: Endpoint, carried: str
) -> None:
    """The display token, sent as ``Authorization: Bearer`` or as the screen's cookie: the
    screen's routes let it in; every other route answers as to no credentials (public ones)
    or refuses it (401/403)."""
    token = deployment.tokens["display"]
    client = deployment.client(None)
    if carried == "bearer":
        client.headers["Authorization"] = f"Bearer {token}"
    else:
        client.cookies.set(DISPLAY_COOKIE, token)
    url = url_for(endpoint, deployment, "cam1")
    if endpoint.method == "WS":
        try:
            with client.websocket_connect(url):
                status = 101
        except WebSocketDisconnect:
            status = 403
    else:
        status = client.request(endpoint.method, url, follow_redirects=False).status_code
    if (endpoint.method, endpoint.path) in DISPLAY:
        assert status == 200, (str(endpoint), carried, status)
    elif endpoint.policy in (None, "public"):
        assert status < 500, (str(endpoint), carried, status)
    else:
        assert status in (401, 403), (str(endpoint), carried, status)


CAMERA_SCOPED = [
    e
    for e in CHECKED
    if e.policy not in (None, "public")
    and (
        any(f"{{{name}}}" in e.path for name in ("camera_id", "event_id", "item_id"))
        or "camera" in e.query
    )
]


@pytest.mark.parametrize("endpoint", CAMERA_SCOPED, ids=str)
def test_camera_restriction(deployment: Deployment, endpoint: Endpoint) -> None:
    """The restricted operator gets nothing of cam2: 403 where the camera is named, 404 for
    its events (as if they did not exist)."""
    status = call(deployment, "restricted", endpoint, url_for(endpoint, deployment, "cam2"))
    if not role_at_least("operator", endpoint.policy or "admin"):
        assert status == 403
    elif "{camera_id}" in endpoint.path or "camera" in endpoint.query:
        assert status == 403, (str(endpoint), status)
    else:
        assert status == 404, (str(endpoint), status)
    # and the same route on cam1 is not refused
    allowed = call(deployment, "restricted", endpoint, url_for(endpoint, deployment, "cam1"))
    if role_at_least("operator", endpoint.policy or "admin"):
        assert allowed not in (401, 403), (str(endpoint), allowed)
