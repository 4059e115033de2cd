"""Display tokens (the analytics screen's read-only credential): created and revoked by an
admin only, audited; the screen and its data open with the token alone (cookie or bearer),
for its cameras only, as numbers only; a revoked token stops the screen."""

from __future__ import annotations

import time
from typing import Any

from deployment import Deployment

from vigil.api.routes.kiosk import DISPLAY_COOKIE
from vigil.events import Event

#: Words of what a public screen must never receive: pictures and identities of tracks.
PICTURE_WORDS = ("snapshot", "jpeg", "jpg", "png", "crop", "frame", "track_id", "thumbnail")


def keys_and_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value] + [t for v in value.values() for t in keys_and_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in keys_and_texts(v)]
    return [value] if isinstance(value, str) else []


def test_admins_create_and_revoke_display_tokens_audited(deployment: Deployment) -> None:
    admin = deployment.client("admin")
    for who in ("viewer", "operator"):
        refused = deployment.client(who).post("/api/display-tokens", json={"name": "x"})
        assert refused.status_code == 403
    created = admin.post("/api/display-tokens", json={"name": "lobby", "cameras": ["cam1"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].startswith("vigil_display_") and body["cameras"] == ["cam1"]
    assert body["url"] == f"/kiosk?token={body['token']}"
    again = admin.post("/api/display-tokens", json={"name": "lobby"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    unknown = admin.post("/api/display-tokens", json={"name": "hall", "cameras": ["cam9"]})
    assert unknown.status_code == 422 and "cam9" in unknown.json()["detail"]
    listed = admin.get("/api/display-tokens").json()
    assert [(t["name"], t["cameras"], t["created_by"]) for t in listed] == [
        ("lobby", ["cam1"], "admin")
    ]
    assert "token" not in listed[0]  # shown once, never again
    assert admin.delete("/api/display-tokens/lobby").status_code == 204
    assert admin.delete("/api/display-tokens/lobby").status_code == 404
    _, entries = deployment.auth.audit_log()
    done = [(e.username, e.action, e.target) for e in entries if e.action.startswith("display")]
    assert done == [
        ("admin", "display_token.revoke", "lobby"),
        ("admin", "display_token.create", "lobby"),
    ]
    [create] = [e for e in entries if e.action == "display_token.create"]
    assert create.detail == {"cameras": ["cam1"]} and create.client_ip is not None


def test_the_screen_opens_with_the_token_only_and_shows_numbers_only(
    deployment: Deployment,
) -> None:
    now = time.time()
    deployment.state.events.add(
        [
            Event(source=c, app="door", type="line_crossing", start_time=now - 5, frame_index=1,
                  track_id=7, line="door", attributes={"direction": "in"})
            for c in ("cam1", "cam2", "cam2")
        ]
    )  # fmt: skip
    admin = deployment.client("admin")
    token = admin.post("/api/display-tokens", json={"name": "lobby", "cameras": ["cam1"]})
    value = token.json()["token"]
    screen = deployment.client(None)

    opened = screen.get(f"/kiosk?token={value}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/kiosk"
    cookie = opened.headers["set-cookie"]
    assert f"{DISPLAY_COOKIE}=" in cookie and "HttpOnly" in cookie
    page = screen.get("/kiosk")
    assert page.status_code == 200 and "/static/js/kiosk.js" in page.text
    assert "<img" not in page.text and "<video" not in page.text
    data = screen.get("/api/kiosk/data")
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["cameras"] == ["cam1"] and body["token"] == "lobby"
    assert [(x["camera"], x["entered"]) for x in body["lines"]] == [("cam1", 1)]
    texts = " ".join(keys_and_texts(body)).lower()
    assert not [w for w in PICTURE_WORDS if w in texts], texts
    by_bearer = deployment.client(None)
    by_bearer.headers["Authorization"] = f"Bearer {value}"
    assert by_bearer.get("/api/kiosk/data").status_code == 200

    # a user's own credentials do not open the screen; a wrong token is explained in HTML
    assert admin.get("/api/kiosk/data").status_code == 401
    wrong = deployment.client(None).get("/kiosk?token=vigil_display_nope")
    assert wrong.status_code == 401 and "display token" in wrong.text

    assert admin.delete("/api/display-tokens/lobby").status_code == 204
    assert screen.get("/api/kiosk/data").status_code == 401
    assert by_bearer.get("/api/kiosk/data").status_code == 401
    assert screen.get("/kiosk").status_code == 401


def test_the_docs_say_the_screens_data_takes_a_bearer_token(deployment: Deployment) -> None:
    schema = deployment.client(None).get("/openapi.json").json()
    assert schema["paths"]["/api/kiosk/data"]["get"]["security"] == [{"token": []}]
    assert "/kiosk" not in schema["paths"]  # the page is not an API operation
