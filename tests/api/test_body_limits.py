"""Request bodies are capped per route before they are buffered, and must be strict JSON."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts import bearer, fast_auth, user_token
from vigil.api.app import create_app
from vigil.api.body_limits import DEFAULT_CAP, BodyGuard, safe_validation_errors
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import EventStore

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

AUTH_CAP = 8 * 1024


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://c/1")], store, storage=tmp_path)
        app = create_app(state, fast_auth(store))
        headers = bearer(user_token(app.state.auth))
        yield TestClient(app, headers=headers, client=("203.0.113.9", 1))


def test_a_login_body_above_the_cap_is_413(client: TestClient) -> None:
    body = json.dumps({"username": "admin", "password": "x" * 20_000})
    r = client.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 8192 bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"username": "admin", "password": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    r = client.post("/api/auth/login", content=chunks())
    assert r.status_code == 413
    small = {"username": "admin", "password": "wrong password"}
    assert client.post("/api/auth/login", json=small).status_code == 401


def test_caps_are_per_route(client: TestClient) -> None:
    # A camera's scene may be large (zones with many points, apps with settings)...
    zones = {f"z{i}": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]] * 50} for i in range(60)}
    r = client.put("/api/cameras/cam1/config", json={"zones": zones})
    assert len(json.dumps({"zones": zones})) > DEFAULT_CAP and r.status_code != 413
    # ...a user a few KB, other routes read no body at all.
    r = client.post("/api/users", json={"username": "u", "password": "p" * 10, "x": "y" * 200_000})
    assert r.status_code == 413
    assert client.post("/api/auth/logout", content=b"x" * (DEFAULT_CAP + 1)).status_code == 413


class _Endless:
    """An ASGI client sending a body of 64 KiB chunks that never ends."""

    def __init__(self, content_length: int | None = None) -> None:
        self.chunks_read = 0
        self.headers = [(b"content-type", b"application/json")]
        if content_length is not None:
            self.headers.append((b"content-length", str(content_length).encode()))
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        self.chunks_read += 1
        return {"type": "http.request", "body": b" " * 65536, "more_body": True}

    async def send(self, message: dict) -> None:
        self.sent.append(message)


async def _reading_app(scope, receive, send) -> None:
    while (await receive()).get("more_body"):
        pass
    raise AssertionError("the whole body was read")


@pytest.mark.parametrize("content_length", [800_000_000, None])
def test_the_guard_stops_reading_at_the_cap(content_length: int | None) -> None:
    client = _Endless(content_length)
    scope = {"type": "http", "method": "POST", "path": "/api/auth/login", "headers": client.headers}
    asyncio.run(BodyGuard(_reading_app)(scope, client.receive, client.send))
    assert client.sent[0]["status"] == 413
    # Nothing read when the length is announced; else no more than the cap (8 KiB).
    assert client.chunks_read == (0 if content_length else 1)


def test_validation_errors_never_echo_what_json_cannot_hold() -> None:
    from fastapi.exceptions import RequestValidationError

    err = RequestValidationError(
        [
            {"type": "x", "loc": ("query", "a"), "msg": "bad", "input": float("nan")},
            {"type": "x", "loc": ("body", "b"), "msg": "bad", "input": "\ud800"},
        ]
    )
    response = asyncio.run(safe_validation_errors(None, err))  # type: ignore[arg-type]
    detail = json.loads(response.body.decode("utf-8"))["detail"]
    assert response.status_code == 422 and [d["input"] for d in detail] == ["nan", "\\ud800"]


def test_a_streamed_body_of_another_type_is_413_too(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    r = client.put(
        "/api/cameras/cam1/config", content=chunks(), headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 422  # read (not JSON) within the cap
    r = client.post("/api/users", content=chunks(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 422
    big = (b"x" * 65536 for _ in range(4))
    r = client.post("/api/users", content=big, headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
