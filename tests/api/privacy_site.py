"""A site with privacy policies for the API tests: cam1 masks people for viewers and
operators (lifts up to 10 minutes), cam2 masks them for every role and needs four eyes,
cam3 has no policy; one user per role, some holding the ``unmask`` permission."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts import bearer, fast_auth, user_token
from api.site import Clock
from vigil.api.app import create_app
from vigil.api.privacy import PrivacyView, privacy_view
from vigil.api.state import ServiceState
from vigil.auth import AuthStore
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

#: who -> (role, cameras whose masks they may lift)
USERS = {
    "admin": ("admin", ["*"]),
    "admin2": ("admin", []),
    "operator": ("operator", ["cam1", "cam2"]),
    "viewer": ("viewer", []),
    "lifter": ("viewer", ["*"]),
}


@dataclass
class PrivacySite:
    state: ServiceState
    auth: AuthStore
    clock: Clock
    app: object
    tokens: dict[str, str]

    def client(self, who: str) -> TestClient:
        return TestClient(self.app, headers=bearer(self.tokens[who]))  # type: ignore[arg-type]

    def view(self, who: str, camera: str) -> PrivacyView:
        user = self.auth.user(who)
        assert user is not None
        return privacy_view(self.state, user.principal, camera)


def privacy_site_config(tmp_path: Path) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "cam1",
                    "url": "rtsp://cam/1",
                    "privacy": {"mask": ["person"], "for": ["viewer", "operator"],
                                "lift_minutes": 10},
                },
                {
                    "id": "cam2",
                    "url": "rtsp://cam/2",
                    "privacy": {"mask": ["person"], "four_eyes": True},
                },
                {"id": "cam3", "url": "rtsp://cam/3"},
            ],
            "storage": {"directory": str(tmp_path / "data")},
        }
    )  # fmt: skip


@pytest.fixture
def privacy_site(tmp_path: Path) -> Iterator[PrivacySite]:
    clock = Clock()
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        state = ServiceState.from_site(privacy_site_config(tmp_path), store, clock=clock)
        app = create_app(state, fast_auth(store, clock=clock))
        auth: AuthStore = app.state.auth
        tokens = {}
        for who, (role, unmask) in USERS.items():
            tokens[who] = user_token(auth, who, role)
            auth.update_user(who, unmask=unmask)
        yield PrivacySite(state, auth, clock, app, tokens)
