"""A service app with two cameras, events on each, and one user per role (plus an operator
restricted to cam1), each with an API token."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from accounts import bearer, fast_auth, user_token
from vigil.api.app import create_app
from vigil.api.state import CameraInfo, ServiceState
from vigil.auth import AuthStore
from vigil.events import Event, EventStore
from vigil.service.messages import LiveFrame

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # a minimal JFIF
#: who -> (role, cameras); "restricted" may see cam1 only.
USERS = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "restricted": ("operator", ["cam1"]),
}


@dataclass
class Deployment:
    app: FastAPI
    state: ServiceState
    auth: AuthStore
    tokens: dict[str, str]
    events: dict[str, Event]  # camera -> one of its events

    def client(self, who: str | None = None, **kw) -> TestClient:
        """A client acting as `who` (a key of USERS) by API token; None: anonymous."""
        headers = bearer(self.tokens[who]) if who else {}
        return TestClient(self.app, headers=headers, **kw)


def build(tmp_path: Path, store: EventStore) -> Deployment:
    state = ServiceState(
        [CameraInfo.create("cam1", "rtsp://cam/1"), CameraInfo.create("cam2", "rtsp://cam/2")],
        store,
        storage=tmp_path / "data",
    )
    for camera in ("cam1", "cam2"):
        state.apply(LiveFrame(camera, 1.0, JPEG))
    events = {
        c: Event(source=c, app="door", type="line_crossing", start_time=100.0 + i, frame_index=i)
        for i, c in enumerate(("cam1", "cam2"))
    }
    store.add(events.values())
    app = create_app(state, fast_auth(store))
    tokens = {
        who: user_token(app.state.auth, who, role, cameras)
        for who, (role, cameras) in USERS.items()
    }
    return Deployment(app, state, app.state.auth, tokens, events)
