"""The API's event loop stays free while a route waits on the database.

A real uvicorn server over a real SQLite database whose write lock another connection holds:
a config save that must record its audit entry waits for the lock, and meanwhile
``/api/health`` (an ``async`` route, served on the loop) still answers at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx

from accounts import bearer, fast_auth, user_token
from api.routes.test_config_routes import SITE, SavedOnly
from uvicorn_thread import served
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.config.loader import load_config
from vigil.config.site import ServerSettings, SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.supervisor import api_server_config

LOCK_S = 1.5  # how long the database stays locked


def test_health_answers_while_an_audit_insert_waits_for_the_database(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE)
    db_file = tmp_path / "vigil.db"
    database = Database(f"sqlite:///{db_file}")
    store = EventStore(database)
    state = ServiceState.from_site(load_config(site_file, model=SiteConfig), store)
    app = create_app(state, fast_auth(store), site=SavedOnly())
    headers = bearer(user_token(app.state.auth))
    config = api_server_config(app, ServerSettings(port=0))
    with (
        served(config) as (_, _, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client,
    ):
        scene = client.get("/api/cameras/gate/config").json()  # the token is touched now
        saved: list[httpx.Response] = []
        lock = sqlite3.connect(db_file, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            save = threading.Thread(
                target=lambda: saved.append(client.put("/api/cameras/gate/config", json=scene))
            )
            save.start()
            waits = []
            deadline = time.monotonic() + LOCK_S
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert client.get("/api/health").status_code == 200
                waits.append(time.monotonic() - started)
                time.sleep(0.05)
            assert not saved, "the save should still wait for the database"
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        save.join(30)
        assert saved and saved[0].status_code == 200, saved
        _, entries = app.state.auth.audit_log(action="camera.config.update")
        assert len(entries) == 1
    database.close()
    assert max(waits) < 0.5, f"/api/health took up to {max(waits):.2f} s: the loop was blocked"
