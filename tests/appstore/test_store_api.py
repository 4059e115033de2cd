"""The store API of the dashboard (`vigil.api.routes.store`): browsing a real signed catalog,
installs and upgrades as background jobs that verify exactly as ``vigil apps install`` does
(the same refusals, in one line), and removal refused while a camera runs the app."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from store_helpers import example_wheel

from accounts import bearer, fast_auth, user_token
from cli.cli_helpers import invoke_vigil
from vigil.api.app import create_app
from vigil.api.state import CameraInfo, ServiceState
from vigil.appstore.installed import installed_apps, read_records
from vigil.appstore.keys import generate_keypair
from vigil.appstore.publish import publish
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


def site(running: bool) -> SiteConfig:
    apps = [{"type": "queue_length", "settings": {"zone": "west"}}] if running else []
    return SiteConfig.model_validate({"cameras": [{"id": "door", "url": "door.mp4", "apps": apps}]})


@pytest.fixture
def api(tmp_path: Path, store: Any) -> Any:
    """An admin's and an operator's client of an API whose site runs no store app."""
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        events = EventStore(database)
        state = ServiceState([CameraInfo.create("door", "door.mp4")], events, storage=tmp_path)
        state.site = site(running=False)
        app = create_app(state, fast_auth(events))
        admin = TestClient(app, headers=bearer(user_token(app.state.auth)))
        operator = TestClient(app, headers=bearer(user_token(app.state.auth, "op", "operator")))
        yield admin, operator, state
        app.state.store_jobs.shutdown()


def finished(client: TestClient, job: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Poll the job until it is done or failed; every step it reported on the way is in
    ``steps``."""
    steps = [job["step"]]
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/store/installs/{job['id']}").json()
        if job["step"] != steps[-1]:
            steps.append(job["step"])
    return {**job, "steps": steps}


def install(client: TestClient, catalog: Path, version: str | None = None) -> dict[str, Any]:
    body = {"catalog": str(catalog), "app": "queue_length", "version": version}
    response = client.post("/api/store/installs", json=body)
    assert response.status_code == 202, response.text
    return finished(client, response.json())


def listed(client: TestClient) -> dict[str, Any]:
    (catalog,) = client.get("/api/store").json()["catalogs"]
    assert catalog["error"] is None and catalog["index_problem"] is None, catalog
    return {app["id"]: app for app in catalog["apps"]}


def test_browse_install_upgrade_and_remove_through_the_api(api, store, wheels):
    admin, operator, state = api
    publish(wheels.v1, str(store.catalog), store.key)
    app = listed(operator)["queue_length"]  # operators browse
    assert (app["version"], app["vendor"], app["data"], app["network"]) == (
        "1.0.0",
        "Example Vendor",
        "tracks",
        False,
    )
    assert app["events"] == ["queue_length", "long_wait"] and app["settings_schema"][
        "required"
    ] == ["zone"]
    assert app["signature"]["status"] == "verified" and app["installed"] is None
    assert operator.post("/api/store/installs", json={}).status_code == 403  # admins install

    job = install(admin, store.catalog)
    assert (job["state"], job["installed"], job["previous"], job["progress"]) == (
        "done",
        "1.0.0",
        None,
        1.0,
    )
    assert job["error"] is None and job["signed_by"] == app["signature"]["key_id"]
    assert "installing the verified wheels" in job["steps"], job["steps"]  # pip takes a while
    assert installed_apps()["queue_length"].manifest.version == "1.0.0"
    assert listed(admin)["queue_length"]["signature"]["publisher"] == job["signed_by"]
    assert [j["id"] for j in admin.get("/api/store/installs").json()] == [job["id"]]

    publish(wheels.v1_1, str(store.catalog), store.key)
    app = listed(admin)["queue_length"]
    assert (app["installed"], app["version"], app["upgrade"]) == ("1.0.0", "1.1.0", True)
    job = install(admin, store.catalog, "1.1.0")
    assert (job["state"], job["installed"], job["previous"]) == ("done", "1.1.0", "1.0.0")

    state.site = site(running=True)
    (record,) = admin.get("/api/store").json()["installed"]
    assert (record["id"], record["version"], record["cameras"]) == (
        "queue_length",
        "1.1.0",
        ["door"],
    )
    refused = admin.delete("/api/store/apps/queue_length")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "app 'queue_length' is enabled on camera(s) door: disable it there first"
    )
    state.site = site(running=False)
    removed = admin.delete("/api/store/apps/queue_length")
    assert removed.json() == {"removed": "queue_length", "version": "1.1.0"}
    assert read_records() == {}
    assert admin.delete("/api/store/apps/queue_length").status_code == 404


def cli_refusal(tmp_path: Path) -> str:
    r = invoke_vigil("apps", "install", "queue_length", cwd=tmp_path, models=tmp_path)
    assert r.returncode != 0 and r.stdout == "", r
    (line,) = r.stderr.strip().splitlines()
    return line.removeprefix("error: ")


def test_a_refused_install_fails_its_job_with_the_clis_reason(api, store, wheels, tmp_path):
    admin, _, _ = api
    other_key, _ = generate_keypair(tmp_path / "stranger")  # never trusted
    publish(wheels.v1, str(store.catalog), other_key)
    # the index is signed by the stranger too: the catalog is listed with its problem
    (catalog,) = admin.get("/api/store").json()["catalogs"]
    assert catalog["index_problem"].startswith("is signed by untrusted key")
    assert catalog["apps"][0]["signature"]["status"] == "untrusted"

    job = install(admin, store.catalog)
    assert job["state"] == "failed" and job["installed"] is None
    assert "\n" not in job["error"] and "untrusted key" in job["error"], job
    assert job["error"] in cli_refusal(tmp_path)
    assert read_records() == {}


def test_an_altered_wheel_fails_its_job_and_installs_nothing(api, store, wheels, tmp_path):
    admin, _, _ = api
    _, release = publish(wheels.v1, str(store.catalog), store.key)
    wheel = store.catalog / release.wheel
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    job = install(admin, store.catalog)
    assert job["state"] == "failed", job
    assert "does not match the index" in job["error"] and "refusing it" in job["error"]
    assert job["error"] in cli_refusal(tmp_path)
    assert read_records() == {}


def test_only_configured_catalogs_install(api, store, tmp_path):
    admin, _, _ = api
    elsewhere = {"catalog": str(tmp_path / "elsewhere"), "app": "queue_length"}
    response = admin.post("/api/store/installs", json=elsewhere)
    assert response.status_code == 422
    assert "is not one of the configured catalogs" in response.json()["detail"]
    assert admin.get("/api/store/installs/nope").status_code == 404


def test_a_new_apps_project_builds_and_installs_through_the_store(api, store, tmp_path):
    """`vigil apps new`, its printed `python -m build` command run offline as printed, the
    wheel published signed, installed by an install job."""
    admin, _, _ = api
    r = invoke_vigil("apps", "new", "door_count", "--vendor", "ACME", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
    words = shlex.split(r.stdout.splitlines()[-1])
    assert words[:3] == ["python", "-m", "build"], r.stdout
    built = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=tmp_path,
        env={**os.environ, "PIP_NO_INDEX": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "door_count" / "dist").glob("*.whl")
    publish(wheel, str(store.catalog), store.key)
    body = {"catalog": str(store.catalog), "app": "door_count"}
    job = finished(admin, admin.post("/api/store/installs", json=body).json())
    assert (job["state"], job["installed"], job["error"]) == ("done", "0.1.0", None), job
    app = installed_apps()["door_count"]
    assert (app.manifest.vendor, app.manifest.events) == ("ACME", ["count"])


def test_an_upgrade_that_receives_more_says_what_is_new(api, store, wheels, tmp_path):
    """The permissions screen of an upgrade names what the new version receives beyond the
    installed one."""
    admin, _, _ = api
    publish(wheels.v1, str(store.catalog), store.key)
    assert install(admin, store.catalog)["state"] == "done"
    assert listed(admin)["queue_length"]["permission_changes"] == []
    more = {"data": "pixels", "network": True, "events": ["queue_length", "long_wait", "crowd"]}
    wheel = example_wheel(tmp_path, tmp_path / "w2", version="2.0.0", manifest_changes=more)
    publish(wheel, str(store.catalog), store.key)
    app = listed(admin)["queue_length"]
    assert (app["version"], app["data"], app["upgrade"]) == ("2.0.0", "pixels", True)
    assert app["permission_changes"] == [
        "now receives the video pixels, not only tracks",
        "now has network access",
        "emits new event types: crowd",
    ]
