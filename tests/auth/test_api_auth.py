"""The auth HTTP API: login cookies, CSRF, logout, session expiry, rate limiting, the
first-run setup, users and tokens, the audit log, and camera-restricted lists and streams."""

from __future__ import annotations

import json
import threading
import time

import pytest
from deployment import Deployment
from starlette.websockets import WebSocketDisconnect

from accounts import PASSWORD, bearer
from vigil.auth import policy
from vigil.db.database import Database
from vigil.events import Event
from vigil.service.messages import EventMessage, FrameMetadata

LOCAL = ("127.0.0.1", 40000)
LOCAL_URL = "http://127.0.0.1:8971"  # what the browser on the machine opens
REMOTE = ("203.0.113.9", 40000)


def login(deployment: Deployment, username: str = "admin", client=REMOTE):
    c = deployment.client(client=client)
    r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r


def test_login_sets_session_and_csrf_cookies(deployment: Deployment) -> None:
    c, r = login(deployment)
    body = r.json()
    assert body["username"] == "admin" and body["role"] == "admin" and body["cameras"] is None
    cookies = {h.split("=", 1)[0]: h for h in r.headers.get_list("set-cookie")}
    session, csrf = cookies["vigil_session"], cookies["vigil_csrf"]
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert f"vigil_csrf={body['csrf_token']};" in csrf
    assert r.headers["cache-control"] == "no-store"
    me = c.get("/api/auth/me").json()
    assert me == {"username": "admin", "role": "admin", "cameras": None}

    _, r = login(deployment, "restricted")
    assert r.json()["cameras"] == ["cam1"] and r.json()["role"] == "operator"


def test_state_changing_requests_with_a_cookie_need_the_csrf_token(
    deployment: Deployment,
) -> None:
    c, r = login(deployment)
    csrf = r.json()["csrf_token"]
    new = {"username": "dave", "password": PASSWORD, "role": "viewer"}
    r = c.post("/api/users", json=new)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = c.post("/api/users", json=new, headers={"X-CSRF-Token": csrf + "x"})
    assert r.status_code == 403
    assert c.post("/api/users", json=new, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert c.get("/api/users").status_code == 200  # reading needs no token
    # A bearer token is not sent by browsers on their own: no CSRF token needed.
    api = deployment.client("admin")
    assert api.delete("/api/users/dave").status_code == 204


def test_logout_ends_the_session_on_the_server(deployment: Deployment) -> None:
    c, r = login(deployment, "viewer")
    cookie = c.cookies["vigil_session"]
    csrf = r.json()["csrf_token"]
    assert c.post("/api/auth/logout").status_code == 403  # CSRF token missing
    r = c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert any(h.startswith('vigil_session=""') for h in r.headers.get_list("set-cookie"))
    replay = deployment.client()
    replay.cookies.set("vigil_session", cookie)
    r = replay.get("/api/cameras")
    assert r.status_code == 401 and r.json() == {"detail": "session expired: log in again"}


def test_sessions_expire_when_idle(deployment: Deployment) -> None:
    c, _ = login(deployment, "viewer")
    assert c.get("/api/auth/me").status_code == 200
    clock = deployment.auth.clock
    deployment.auth.clock = lambda: clock() + deployment.auth.session_idle_s + 1
    try:
        assert c.get("/api/auth/me").status_code == 401
    finally:
        deployment.auth.clock = clock


def test_bad_credentials_are_401_and_audited(deployment: Deployment) -> None:
    c = deployment.client(client=REMOTE)
    for body in (
        {"username": "admin", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
    ):
        r = c.post("/api/auth/login", json=body)
        assert r.status_code == 401 and r.json() == {"detail": "wrong user name or password"}
    assert c.get("/api/cameras").status_code == 401
    assert c.get("/api/cameras", headers=bearer("vigil_forged")).status_code == 401
    r = c.get("/api/cameras", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    _, entries = deployment.auth.audit_log(action="login.failed")
    assert [(e.target, e.username, e.client_ip) for e in entries] == [
        ("nobody", None, "203.0.113.9"),
        ("admin", None, "203.0.113.9"),
    ]


def test_login_rate_limit_per_user_and_per_address(deployment: Deployment) -> None:
    c = deployment.client(client=REMOTE)
    wrong = {"username": "viewer", "password": "wrong password"}
    for _ in range(5):
        assert c.post("/api/auth/login", json=wrong).status_code == 401
    r = c.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 429  # even the right password: the name is locked for a while
    assert 1 <= int(r.headers["retry-after"]) <= 300
    # Another user from another address is not affected...
    other = deployment.client(client=("198.51.100.7", 1))
    assert other.post(
        "/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).is_success
    # ...but one address guessing many names is stopped too.
    for i in range(15):
        c.post("/api/auth/login", json={"username": f"guess{i}", "password": "x" * 10})
    r = c.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_setup_creates_the_first_admin_only_locally_and_only_once(tmp_path) -> None:
    from deployment import TestClient

    from accounts import fast_auth
    from vigil.api.app import create_app
    from vigil.api.state import CameraInfo, ServiceState
    from vigil.events import EventStore

    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://c/1")], store, storage=tmp_path)
        app = create_app(state, fast_auth(store))
        remote = TestClient(app, client=REMOTE)
        local = TestClient(app, client=LOCAL, base_url=LOCAL_URL)
        assert remote.get("/api/auth/setup-needed").json() == {"needed": True}
        body = {"username": "root", "password": PASSWORD}
        r = remote.post("/api/auth/setup", json=body)
        assert r.status_code == 403 and "this machine" in r.json()["detail"]
        proxied = local.post("/api/auth/setup", json=body, headers={"X-Forwarded-For": "1.2.3.4"})
        assert proxied.status_code == 403  # a reverse proxy on this machine is not "local"
        r = local.post("/api/auth/setup", json={"username": "root", "password": "short"})
        assert r.status_code == 422 and "too short" in r.json()["detail"]
        r = local.post("/api/auth/setup", json=body)
        assert r.status_code == 201 and r.json()["role"] == "admin"
        assert local.get("/api/auth/me").json()["username"] == "root"  # logged in
        assert remote.get("/api/auth/setup-needed").json() == {"needed": False}
        again = TestClient(app, client=("::1", 1), base_url="http://[::1]:8971")
        r = again.post("/api/auth/setup", json={"username": "eve", "password": PASSWORD})
        assert r.status_code == 403 and "closed" in r.json()["detail"]
        assert [u.username for u in app.state.auth.users()] == ["root"]


def test_users_api(deployment: Deployment) -> None:
    api = deployment.client("admin", client=REMOTE)
    r = api.post(
        "/api/users",
        json={"username": "erin", "password": PASSWORD, "role": "viewer", "cameras": ["cam2"]},
    )
    assert r.status_code == 201 and r.json()["cameras"] == ["cam2"]
    assert {u["username"] for u in api.get("/api/users").json()} >= {"admin", "erin"}
    assert "password" not in json.dumps(api.get("/api/users").json())
    dup = api.post("/api/users", json={"username": "erin", "password": PASSWORD})
    assert dup.status_code == 409
    weak = api.post("/api/users", json={"username": "fred", "password": "0123456789"[:9]})
    assert weak.status_code == 422
    bad = api.post("/api/users", json={"username": "fred", "password": PASSWORD, "role": "god"})
    assert bad.status_code == 422

    r = api.patch("/api/users/erin", json={"role": "operator", "cameras": None})
    assert r.status_code == 200 and r.json()["role"] == "operator" and r.json()["cameras"] is None
    r = api.patch("/api/users/erin", json={"cameras": ["cam1"]})
    assert r.json()["role"] == "operator" and r.json()["cameras"] == ["cam1"]
    assert api.patch("/api/users/nobody", json={"role": "viewer"}).status_code == 404
    assert api.patch("/api/users/admin", json={"role": "viewer"}).status_code == 409

    token = api.post("/api/users/erin/tokens").json()["token"]
    erin = deployment.client()
    erin.headers.update(bearer(token))
    assert [c["id"] for c in erin.get("/api/cameras").json()] == ["cam1"]
    assert api.post("/api/users/nobody/tokens").status_code == 404
    second = api.post("/api/users/erin/tokens").json()["token"]
    assert api.delete("/api/users/erin/tokens").json() == {"revoked": 2}
    assert erin.get("/api/cameras").status_code == 401
    assert api.delete("/api/users/nobody/tokens").status_code == 404
    erin.headers.update(bearer(api.post("/api/users/erin/tokens").json()["token"]))
    assert second != token and erin.get("/api/cameras").status_code == 200
    assert api.delete("/api/users/erin").status_code == 204
    assert erin.get("/api/cameras").status_code == 401  # the token went with the user
    assert api.delete("/api/users/erin").status_code == 404
    assert api.delete("/api/users/admin").status_code == 409  # the last admin

    entries = api.get("/api/audit", params={"user": "admin"}).json()["items"]
    actions = [(e["action"], e["target"]) for e in entries]
    assert ("user.add", "erin") in actions and ("user.remove", "erin") in actions
    assert ("token.create", "erin") in actions
    update = next(e for e in entries if e["action"] == "user.update")
    assert update["client_ip"] == "203.0.113.9" and update["detail"] == {"cameras": ["cam1"]}


def test_single_named_tokens_are_listed_and_revoked(deployment: Deployment) -> None:
    api = deployment.client("admin", client=REMOTE)
    body = {"username": "gina", "password": PASSWORD, "role": "viewer"}
    assert api.post("/api/users", json=body).status_code == 201
    made = api.post("/api/users/gina/tokens", json={"name": "home-assistant"}).json()
    assert made["name"] == "home-assistant" and made["token"].startswith("vigil_")
    other = api.post("/api/users/gina/tokens", json={"name": "nvr"}).json()["token"]
    assert api.post("/api/users/gina/tokens", json={"name": "nvr"}).status_code == 409
    assert api.post("/api/users/gina/tokens", json={"name": " "}).status_code == 422
    gina = deployment.client()
    gina.headers.update(bearer(made["token"]))
    assert gina.get("/api/cameras").status_code == 200
    listed = api.get("/api/users/gina/tokens").json()
    assert [t["name"] for t in listed] == ["home-assistant", "nvr"]
    assert listed[0]["last_used"] is not None and listed[1]["last_used"] is None
    assert made["token"] not in json.dumps(listed)

    assert api.delete(f"/api/users/gina/tokens/{listed[0]['id']}").status_code == 204
    assert gina.get("/api/cameras").status_code == 401  # that token only
    gina.headers.update(bearer(other))
    assert gina.get("/api/cameras").status_code == 200
    assert api.delete(f"/api/users/gina/tokens/{listed[0]['id']}").status_code == 404
    assert api.delete(f"/api/users/admin/tokens/{listed[1]['id']}").status_code == 404
    assert [t["name"] for t in api.get("/api/users/gina/tokens").json()] == ["nvr"]
    entries = api.get("/api/audit", params={"action": "token.revoke"}).json()["items"]
    assert entries[0]["target"] == "gina" and entries[0]["detail"] == {"token": "home-assistant"}
    viewer = deployment.client("viewer", client=REMOTE)
    assert viewer.get("/api/users/gina/tokens").status_code == 403


def test_audit_log_is_admins_only_and_pages(deployment: Deployment) -> None:
    login(deployment, "viewer")
    login(deployment, "operator")
    api = deployment.client("admin")
    page = api.get("/api/audit", params={"action": "login", "limit": 1}).json()
    assert page["total"] == 2 and page["limit"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["username"] == "operator"  # newest first
    assert deployment.client("operator").get("/api/audit").status_code == 403
    assert api.get("/api/audit", params={"limit": 0}).status_code == 422


def test_restricted_user_sees_only_their_cameras(deployment: Deployment) -> None:
    extra = Event(source="cam2", app="zone", type="occupancy", start_time=200.0, frame_index=1,
                  attributes={"count": 3})  # fmt: skip
    deployment.state.events.add([extra])
    full = deployment.client("operator")
    restricted = deployment.client("restricted")
    assert [c["id"] for c in full.get("/api/cameras").json()] == ["cam1", "cam2"]
    assert [c["id"] for c in restricted.get("/api/cameras").json()] == ["cam1"]
    page = restricted.get("/api/events").json()
    assert page["total"] == 1 and [e["camera"] for e in page["items"]] == ["cam1"]
    assert full.get("/api/events").json()["total"] == 3
    assert restricted.get("/api/events", params={"type": "occupancy"}).json()["total"] == 0
    counts = full.get("/api/counts").json()
    assert [s["camera"] for s in counts["occupancy"]] == ["cam2"]
    assert restricted.get("/api/counts").json()["occupancy"] == []
    r = restricted.get("/api/counts", params={"camera": "cam2"})
    assert r.status_code == 403 and r.json() == {"detail": "no access to camera 'cam2'"}
    r = restricted.get("/api/events", params=[("camera", "cam2"), ("camera", "cam1")])
    assert r.status_code == 403  # every camera named is checked, not just the one used


def test_websocket_needs_a_user_and_filters_cameras(deployment: Deployment) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        deployment.client().websocket_connect("/api/ws"),
    ):
        pass
    assert refused.value.code == 1008
    restricted = deployment.client("restricted")
    with pytest.raises(WebSocketDisconnect), restricted.websocket_connect("/api/ws?camera=cam2"):
        pass

    c, _ = login(deployment, "restricted")  # browsers authenticate the socket by cookie
    evil = {"Origin": "https://evil.example"}  # another site's page cannot use the cookie
    with pytest.raises(WebSocketDisconnect), c.websocket_connect("/api/ws", headers=evil):
        pass
    with c.websocket_connect("/api/ws", headers={"Origin": "http://testserver"}) as ws:
        for camera in ("cam2", "cam1"):
            deployment.state.hub.publish(FrameMetadata(camera, 1, 0.0, 1.0, 10, 10, []))
            deployment.state.hub.publish(EventMessage(deployment.events[camera], 1.0))
        first, second = ws.receive_json(), ws.receive_json()
    assert (first["kind"], first["camera"]) == ("objects", "cam1")
    assert (second["kind"], second["camera"]) == ("event", "cam1")


def test_mjpeg_and_snapshots_are_per_camera(deployment: Deployment) -> None:
    c, _ = login(deployment, "restricted")  # <img src=...> sends the cookie
    assert c.get("/api/cameras/cam1/latest.jpg").status_code == 200
    assert c.get("/api/cameras/cam2/latest.jpg").status_code == 403
    r = c.get("/api/cameras/cam1/live.mjpeg", params={"frames": 1})
    assert r.status_code == 200 and b"--vigilframe" in r.content
    assert c.get("/api/cameras/cam2/live.mjpeg", params={"frames": 1}).status_code == 403
    cam2 = deployment.events["cam2"].id
    for path in ("", "/snapshot.jpg", "/clip.mp4"):
        assert c.get(f"/api/events/{cam2}{path}").status_code == 404


def test_metrics_need_an_operator_token(deployment: Deployment) -> None:
    assert deployment.client().get("/metrics").status_code == 401
    assert deployment.client("viewer").get("/metrics").status_code == 403
    r = deployment.client("operator").get("/metrics")
    assert r.status_code == 200 and "vigil_camera_up" in r.text


def test_health_is_public_and_minimal(deployment: Deployment) -> None:
    body = deployment.client().get("/api/health").json()
    assert set(body) == {"ok", "status", "time", "uptime_s", "disk_pressure"}


def test_openapi_names_the_ways_to_authenticate(deployment: Deployment) -> None:
    schema = deployment.client().get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"token", "session"}
    assert schema["paths"]["/api/cameras"]["get"]["security"] == [{"token": []}, {"session": []}]
    assert schema["paths"]["/metrics"]["get"]["security"]
    assert "security" not in schema["paths"]["/api/health"]["get"]
    assert "security" not in schema["paths"]["/api/auth/login"]["post"]


def test_users_change_their_own_password(deployment: Deployment) -> None:
    c, r = login(deployment, "viewer")
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    wrong = {"current": "not my password", "new": "a brand new password"}
    assert c.post("/api/auth/password", json=wrong, headers=csrf).status_code == 403
    weak = {"current": PASSWORD, "new": "aaaaaaaaaaaa"}
    assert c.post("/api/auth/password", json=weak, headers=csrf).status_code == 422
    good = {"current": PASSWORD, "new": "a brand new password"}
    assert c.post("/api/auth/password", json=good).status_code == 403  # CSRF token missing
    assert c.post("/api/auth/password", json=good, headers=csrf).status_code == 204
    assert c.get("/api/auth/me").status_code == 401  # sessions end: log in again
    again = deployment.client(client=REMOTE)
    body = {"username": "viewer", "password": "a brand new password"}
    assert again.post("/api/auth/login", json=body).status_code == 200
    actions = [e.action for e in deployment.auth.audit_log(user="viewer")[1]]
    assert actions[:3] == ["login", "password.change", "password.failed"]


def test_streams_end_when_the_session_does(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging out (or losing access) also ends the live views already open."""
    monkeypatch.setattr(policy, "STREAM_RECHECK_S", 0.05)
    c, _ = login(deployment, "viewer")
    cookie = c.cookies["vigil_session"]
    with c.websocket_connect("/api/ws") as ws:
        deployment.auth.end_session(cookie)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008

    c, _ = login(deployment, "viewer")
    timer = threading.Timer(0.3, deployment.auth.end_session, [c.cookies["vigil_session"]])
    timer.start()
    started = time.monotonic()
    r = c.get("/api/cameras/cam1/live.mjpeg", params={"fps": 30})  # endless until then
    timer.join()
    assert r.status_code == 200 and b"--vigilframe" in r.content
    assert time.monotonic() - started < 5

    # A token whose user is removed stops too.
    viewer = deployment.client("viewer")
    with viewer.websocket_connect("/api/ws") as ws:
        deployment.client("admin").delete("/api/users/viewer")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_setup_refuses_other_host_names_and_any_proxy_header(tmp_path) -> None:
    """A DNS-rebinding page (its own name resolving to 127.0.0.1) or a request relayed by a
    proxy on this machine cannot create the first admin."""
    from deployment import TestClient

    from accounts import fast_auth
    from vigil.api.app import create_app
    from vigil.api.state import CameraInfo, ServiceState
    from vigil.events import EventStore

    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://c/1")], store, storage=tmp_path)
        app = create_app(state, fast_auth(store))
        body = {"username": "root", "password": PASSWORD}
        rebound = TestClient(app, client=LOCAL, base_url="http://rebind.evil.example:8971")
        assert rebound.post("/api/auth/setup", json=body).status_code == 403
        local = TestClient(app, client=LOCAL, base_url="http://localhost:8971")
        for header in (
            {"Via": "1.1 proxy"},
            {"X-Forwarded-Host": "vigil.example"},
            {"X-Forwarded-Proto": "https"},
            {"True-Client-IP": "198.51.100.1"},
            {"CF-Connecting-IP": "198.51.100.1"},
            {"Forwarded": "for=198.51.100.1"},
            {"Origin": "http://rebind.evil.example:8971"},
        ):
            r = local.post("/api/auth/setup", json=body, headers=header)
            assert r.status_code == 403 and "this machine" in r.json()["detail"], header
        assert not app.state.auth.has_users()
        r = local.post("/api/auth/setup", json=body, headers={"Origin": "http://localhost:8971"})
        assert r.status_code == 201


def test_concurrent_wrong_logins_check_at_most_the_limit(deployment: Deployment) -> None:
    """Each guess is counted before its password is checked: 60 at once cannot all pass the
    limit's check before the first of them is counted."""
    from argon2 import PasswordHasher

    deployment.auth.hasher = PasswordHasher(time_cost=2, memory_cost=4096, parallelism=1)
    deployment.auth.update_user("viewer", password=PASSWORD)  # hashed slowly, as in service
    c = deployment.client(client=REMOTE)
    wrong = {"username": "viewer", "password": "wrong password"}
    statuses: list[int] = []
    barrier = threading.Barrier(60)

    def guess() -> None:
        barrier.wait()
        statuses.append(c.post("/api/auth/login", json=wrong).status_code)

    threads = [threading.Thread(target=guess) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [401, 429] and statuses.count(401) == 5
    assert deployment.auth.audit_log(action="login.failed")[0] == 5


def test_a_guesser_locks_out_only_themselves(deployment: Deployment) -> None:
    attacker = deployment.client(client=REMOTE)
    wrong = {"username": "viewer", "password": "wrong password"}
    for _ in range(5):
        assert attacker.post("/api/auth/login", json=wrong).status_code == 401
    right = {"username": "viewer", "password": PASSWORD}
    assert attacker.post("/api/auth/login", json=right).status_code == 429
    owner = deployment.client(client=("198.51.100.7", 1))
    assert owner.post("/api/auth/login", json=right).status_code == 200


def test_the_many_addresses_limit_spares_addresses_the_user_logged_in_from(
    deployment: Deployment,
) -> None:
    from vigil.auth.ratelimit import LoginLimiter

    deployment.auth.logins = LoginLimiter(deployment.auth.database, per_user=10)
    right = {"username": "viewer", "password": PASSWORD}
    home = deployment.client(client=("198.51.100.7", 1))
    assert home.post("/api/auth/login", json=right).status_code == 200
    wrong = {"username": "viewer", "password": "wrong password"}
    for i in range(5):  # a guesser with many addresses, within each address's limit
        c = deployment.client(client=(f"203.0.113.{i}", 1))
        for _ in range(2):
            assert c.post("/api/auth/login", json=wrong).status_code == 401
    stranger = deployment.client(client=("192.0.2.1", 1))
    assert stranger.post("/api/auth/login", json=right).status_code == 429
    assert home.post("/api/auth/login", json=right).status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path) -> None:
    from deployment import TestClient

    from accounts import fast_auth
    from vigil.api.app import create_app
    from vigil.api.state import CameraInfo, ServiceState
    from vigil.events import EventStore

    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://c/1")], store, storage=tmp_path)
        app = create_app(state, fast_auth(store), trusted_proxies=["10.0.0.0/8"])
        wrong = {"username": "admin", "password": "wrong password"}
        proxied = TestClient(app, client=("10.1.2.3", 1))
        proxied.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": "198.51.100.4"})
        direct = TestClient(app, client=LOCAL)
        direct.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": "198.51.100.5"})
        _, entries = app.state.auth.audit_log(action="login.failed")
        assert sorted(e.client_ip for e in entries) == ["127.0.0.1", "198.51.100.4"]


def test_the_served_api_ignores_forwarded_for_from_local_clients(tmp_path) -> None:
    """uvicorn itself believes X-Forwarded-For from 127.0.0.1 unless told otherwise: the
    service's server must not, or any local process picks the address that is limited."""
    import httpx

    from accounts import fast_auth
    from uvicorn_thread import served
    from vigil.api.app import create_app
    from vigil.api.state import CameraInfo, ServiceState
    from vigil.config.site import ServerSettings
    from vigil.events import EventStore
    from vigil.service.supervisor import api_server_config

    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://c/1")], store, storage=tmp_path)
        app = create_app(state, fast_auth(store))
        app.state.auth.add_user("owner", PASSWORD, "admin")
        with served(api_server_config(app, ServerSettings(port=0))) as (_, _, port):
            wrong = {"username": "owner", "password": "wrong password"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
                statuses = [
                    c.post(
                        "/api/auth/login", json=wrong, headers={"X-Forwarded-For": f"192.0.2.{i}"}
                    ).status_code
                    for i in range(8)
                ]
        assert statuses == [401] * 5 + [429] * 3
        _, entries = app.state.auth.audit_log(action="login.failed")
        assert {e.client_ip for e in entries} == {"127.0.0.1"}


def test_password_change_is_limited_like_logins(deployment: Deployment) -> None:
    c, r = login(deployment, "viewer")
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    wrong = {"current": "not my password", "new": "a brand new password"}
    for _ in range(5):
        assert c.post("/api/auth/password", json=wrong, headers=csrf).status_code == 403
    r = c.post("/api/auth/password", json=wrong, headers=csrf)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    good = {"current": PASSWORD, "new": "a brand new password"}
    assert c.post("/api/auth/password", json=good, headers=csrf).status_code == 429
    assert len(deployment.auth.audit_log(action="password.failed")[1]) == 5


@pytest.mark.parametrize(
    "raw",
    [
        '{"username": "admin", "password": NaN}',
        '{"username": "admin", "password": Infinity}',
        '{"username": "admin", "password": -Infinity}',
        '{"username": "admin", "password": 1e999999}',
        '{"username": "\\ud800", "password": "a test password"}',
        '{"username": "admin", "password": "x", "\\udfff": 1}',
        '{"username": "admin", "password": ' + "9" * 5000 + "}",
        '{"username": ' + "[" * 3000 + "]" * 3000 + "}",
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/auth/login"), ("POST", "/api/auth/setup"), ("PATCH", "/api/users/viewer")],
)
def test_bodies_that_are_not_strict_json_are_422(
    deployment: Deployment, raw: str, method: str, path: str
) -> None:
    c = deployment.client("admin", client=LOCAL, base_url=LOCAL_URL)
    r = c.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("request body is not valid JSON")
    r.content.decode("utf-8")  # encodable, whatever came in


def test_names_are_printable_text(deployment: Deployment) -> None:
    c = deployment.client("admin", client=REMOTE)
    r = c.post("/api/auth/login", json={"username": "ad\u0007min", "password": PASSWORD})
    assert r.status_code == 422 and "printable" in r.text
    r = c.patch("/api/users/viewer", json={"cameras": ["cam1", "cam\u2028"]})
    assert r.status_code == 422 and "printable" in r.text
