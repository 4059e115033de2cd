"""The dashboard's pages without a browser: who may open which page, where a browser without
a session is sent, what the navigation shows each role, and the static and vendored files."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from accounts import bearer, fast_auth, user_token
from vigil.api.app import create_app
from vigil.api.routes.pages import PAGES
from vigil.api.state import CameraInfo, ServiceState
from vigil.api.web import STATIC_DIR
from vigil.db.database import Database
from vigil.events import EventStore

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends
NAV = {"viewer": ["Live", "Events", "Analytics"],
       "operator": ["Live", "Events", "Recordings", "Analytics", "Search", "Apps", "Store", "System"],
       "admin": ["Live", "Events", "Recordings", "Analytics", "Search", "Apps", "Store", "System", "Admin"]}  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    state = ServiceState(
        [CameraInfo.create("gate", "rtsp://127.0.0.1:9/gate", "Front gate"),
         CameraInfo.create("yard", "rtsp://127.0.0.1:9/yard")],
        store,
        storage=tmp_path / "data",
    )  # fmt: skip
    with TestClient(create_app(state, fast_auth(store))) as client:
        yield client
    database.close()


def as_user(client: TestClient, role: str, cameras: list[str] | None = None) -> dict[str, str]:
    token = user_token(client.app.state.auth, f"{role}-user", role, cameras)  # type: ignore[attr-defined]
    return {**HTML, **bearer(token)}


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    return re.findall(r">([^<>]+)</a>", nav.group(1)) if nav else []


@pytest.mark.parametrize(
    "path", ["/", "/events?camera=gate&type=intrusion", "/admin", "/cameras/gate/zones"]
)
def test_a_browser_without_a_session_is_sent_to_the_login(client: TestClient, path: str):
    response = client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(path, safe="")
    # A script (no text/html in Accept) gets the API's JSON 401.
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 401
    assert response.json() == {"detail": "not authenticated"}


def test_login_and_setup_pages_are_open(client: TestClient):
    for path, module in (("/login", "login"), ("/setup", "setup")):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200
        assert f'data-page="{module}"' in response.text
        assert nav_links(response.text) == []  # nothing to navigate to before signing in
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_the_navigation_shows_the_pages_the_role_can_open(client: TestClient, role: str):
    headers = as_user(client, role)
    response = client.get("/", headers=headers)
    assert response.status_code == 200
    assert nav_links(response.text) == NAV[role]
    assert f'data-role="{role}"' in response.text
    for page in PAGES:
        path = page.path.replace("{camera_id}", "gate")
        opened = client.get(path, headers=headers)
        allowed = (
            page.title in NAV[role]
            or (page.module in ("camera", "account"))  # every user has their own account
            or (page.module == "zones" and role == "admin")
        )
        assert opened.status_code == (200 if allowed else 403), (role, path)
        if not allowed:  # a page the role may not open: a short HTML page, not JSON
            assert opened.headers["content-type"].startswith("text/html")
            assert "Not allowed" in opened.text


def test_camera_pages_follow_the_users_cameras(client: TestClient):
    headers = as_user(client, "viewer", ["gate"])
    page = client.get("/cameras/gate", headers=headers)
    assert page.status_code == 200
    assert "<title>Front gate · Vigil</title>" in page.text
    assert 'data-camera-id="gate"' in page.text
    assert client.get("/cameras/yard", headers=headers).status_code == 403
    missing = client.get("/cameras/nowhere", headers=as_user(client, "admin"))
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert client.get(
        "/cameras/nowhere", headers=bearer(user_token(client.app.state.auth))
    ).json() == {  # type: ignore[attr-defined]
        "detail": "unknown camera 'nowhere'"
    }  # a script (no text/html) gets the JSON


def test_names_are_escaped_in_the_page(client: TestClient):
    state = client.app.state.vigil  # type: ignore[attr-defined]
    state.cameras["yard"] = CameraInfo.create(
        "yard", "rtsp://127.0.0.1:9/yard", '<b>Yard</b> & "co"'
    )
    page = client.get("/cameras/yard", headers=as_user(client, "viewer"))
    assert "<title>&lt;b&gt;Yard&lt;/b&gt; &amp; &quot;co&quot; · Vigil</title>" in page.text
    assert "<b>" not in page.text


def test_every_page_module_and_vendored_library_is_served(client: TestClient):
    for page in PAGES:
        script = client.get(f"/static/js/pages/{page.module}.js")
        assert script.status_code == 200, page.module
        assert "javascript" in script.headers["content-type"]
    for url in {u for page in PAGES for u in page.vendor}:
        assert client.get(url).status_code == 200, url
    assert client.get("/static/../pages.py").status_code == 404


def test_vendored_libraries_match_the_pins_of_the_script():
    script = (REPO / "scripts" / "vendor_web.sh").read_text()
    pins = re.findall(r'^  "([^|"]+)\|([^|]+)\|([^|]+)\|([0-9a-f]{64})\|([^"]+)"$', script, re.M)
    assert {name for name, *_ in pins} == {"chart.js", "swagger-ui-dist", "vis-timeline"}
    for name, version, integrity, sha256, keep in pins:
        folder = STATIC_DIR / "vendor" / name
        assert (folder / "VERSION").read_text().splitlines() == [
            f"{name}@{version}",
            f"sha256 {sha256}",
            integrity,
        ]
        for file in keep.split():
            assert (folder / Path(file).name).stat().st_size > 0, file
        assert any(p.name.startswith("LICENSE") for p in folder.iterdir())


# What the pages' scripts read from each API response (a renamed field breaks a page
# silently, so the OpenAPI schema of the running app is checked against this list).
READS = {
    ("get", "/api/cameras"): {"id", "name", "state", "up", "live_url"},
    ("get", "/api/cameras/{camera_id}"): {
        "id", "name", "state", "up", "status", "live_url", "apps", "node", "privacy"},
    ("get", "/api/cameras/{camera_id}", "privacy"): {
        "purpose", "masked_classes", "masked_for", "mode", "part", "static_masks", "kept_days"},
    ("get", "/api/cameras/{camera_id}", "privacy", "kept_days"): {
        "recordings", "snapshots", "boxes", "events"},
    ("get", "/api/cameras/{camera_id}", "apps"): {
        "type", "name", "enabled", "state", "restarts", "last_error", "counters", "errors",
        "rejected", "backoff_s", "sandboxed", "memory_cgroup"},
    ("get", "/api/cameras/{camera_id}", "status"): {
        "fps_in", "fps_processed", "frames_dropped", "detector_latency_ms", "queue_depth",
        "recording_lag_s", "reconnects", "decoder", "counters", "error"},
    ("get", "/api/health"): {"status", "uptime_s"},
    ("get", "/api/events"): {"total", "items"},
    ("get", "/api/events", "items"): {
        "id", "camera", "app", "type", "state", "start_time", "end_time", "class_name",
        "track_id", "zone", "line", "attributes", "snapshot_url", "clip_url"},
    ("get", "/api/events/{event_id}"): {
        "id", "app", "type", "start_time", "end_time", "class_name", "track_id", "zone", "line",
        "attributes", "crop_url"},
    ("get", "/api/review"): {"total", "items"},
    ("get", "/api/review", "items"): {
        "id", "camera", "start", "end", "severity", "apps", "types", "classes", "zones",
        "event_count", "events", "thumbnails", "clip_url", "reviewed"},
    ("get", "/api/review/facets"): {"cameras", "apps", "zones", "classes", "types", "severities"},
    ("post", "/api/review/{item_id}/reviewed"): {"reviewed"},
    ("delete", "/api/review/{item_id}/reviewed"): {"reviewed"},
    ("get", "/api/recordings"): {"segments", "gaps", "recorded_s"},
    ("get", "/api/recordings", "segments"): {
        "id", "start_time", "end_time", "duration_s", "motion", "objects"},
    ("get", "/api/recordings/timeline"): {"start", "end", "bucket_s", "cameras"},
    ("get", "/api/recordings/timeline", "cameras"): {"camera", "recorded_s", "spans"},
    ("get", "/api/recordings/timeline", "cameras", "spans"): {
        "start", "end", "recorded_s", "motion", "objects"},
    ("get", "/api/counts"): {"buckets", "line_crossings", "occupancy"},
    ("get", "/api/counts", "line_crossings"): {"camera", "app", "line", "class_name", "direction", "total", "counts"},
    ("get", "/api/counts", "occupancy"): {"camera", "app", "zone", "mean", "max"},
    ("get", "/api/cameras/{camera_id}/config"): {
        "zones", "lines", "apps", "static_masks", "frame_size", "revision", "classes"},
    ("get", "/api/cameras/{camera_id}/config", "apps"): {"type", "name", "settings", "enabled"},
    ("put", "/api/cameras/{camera_id}/config"): {"revision", "applied"},
    ("put", "/api/cameras/{camera_id}/apps/{name}"): {"applied"},
    ("get", "/api/apps"): {"id", "name", "version", "vendor", "description", "origin", "data",
                           "network", "events", "settings_schema", "instances"},
    ("get", "/api/apps", "instances"): {
        "camera", "name", "enabled", "settings", "state", "last_error", "restarts", "errors",
        "rejected", "backoff_s", "sandboxed", "memory_cgroup"},
    ("get", "/api/users"): {"username", "role", "cameras", "created_at"},
    ("post", "/api/users/{username}/tokens"): {"token"},
    ("get", "/api/audit"): {"total", "items"},
    ("get", "/api/audit", "items"): {"time", "username", "action", "target", "client_ip", "detail"},
    ("get", "/api/auth/setup-needed"): {"needed"},
    ("post", "/api/search/tracks"): {
        "camera", "track_id", "class_name", "first_time", "last_time", "moment", "dwell",
        "speed_kmh", "path", "picture_url", "crop_url"},
    ("get", "/api/cluster"): {"nodes", "moves"},
    ("get", "/api/cluster", "nodes"): {"id", "head", "alive", "address", "cameras", "capacity", "load", "pids"},
    ("get", "/api/cluster", "moves"): {"at", "camera", "from_node", "to_node", "why"},
}  # fmt: skip


def test_the_api_has_every_field_the_pages_read(client: TestClient):
    spec = client.get("/openapi.json").json()

    def resolve(schema: dict) -> dict:
        while True:
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
            elif "items" in schema:
                schema = schema["items"]
            elif "anyOf" in schema:  # Optional[X]: the non-null branch
                schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
            else:
                return schema

    for (method, path, *inner), fields in READS.items():
        responses = spec["paths"][path][method]["responses"]
        ok = next(r for code, r in responses.items() if code.startswith("2"))
        schema = resolve(ok["content"]["application/json"]["schema"])
        for name in inner:
            schema = resolve(schema["properties"][name])
        missing = fields - set(schema.get("properties", {}))
        assert not missing, f"{method.upper()} {path} {'.'.join(inner)}: no {sorted(missing)}"
