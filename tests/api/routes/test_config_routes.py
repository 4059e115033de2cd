"""Changing zones and apps while the service runs.

In-process: the config API over a real site file (`create_app` on a `ServiceState` built
from it, real auth, real `SiteEditor`). End to end: `vigil serve` as a user runs it (real
processes, a real RTSP server, HTTP on 127.0.0.1): a zone and an app added through
``PUT /api/cameras/{id}/config`` and through `vigil apps enable` produce events without
the camera's worker restarting; invalid edits are refused and the service keeps running; a
changed source restarts that camera's worker only.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from accounts import bearer, fast_auth, user_token
from cli.cli_helpers import invoke_vigil
from rtsp.harness import RtspServer, unavailable_reason
from service.test_serve_e2e import (
    ServiceLog,
    admin_client,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)
from vigil.api.app import create_app
from vigil.api.state import ServiceState
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import EventMessage, RawFrame, Reconfigure, Reconfigured
from vigil.service.site_plan import validate_site_text
from vigil.service.worker.camera import CameraWorker, WorkerSpec
from vigil.sources.frame import Frame

# --------------------------------------------------------------------------- in process


SITE = textwrap.dedent(
    """\
    # Two cameras; comments must survive every edit.
    cameras:
      - id: gate   # the front gate
        url: rtsp://127.0.0.1:8554/gate
        lines:
          middle: {start: [0.5, 0.05], end: [0.5, 0.95]}
        apps:
          - type: line_crossing   # people in and out
            name: crossings
            settings: {line: middle}
      - id: yard
        url: rtsp://127.0.0.1:8554/yard
    storage: {directory: data}
    """
)


@dataclass
class Api:
    client: TestClient
    state: ServiceState
    site_file: Path
    store: EventStore


class SavedOnly:
    """The `SiteControl` of a site file that no service runs: edits are checked as `vigil
    serve` checks the file, then only saved."""

    def check_site_text(self, text: str, file: Path) -> SiteConfig:
        return validate_site_text(text, file)

    def apply_site_file(self) -> None:
        return None


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE)
    site = load_config(site_file, model=SiteConfig)
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    state = ServiceState.from_site(site, store)
    app = create_app(state, fast_auth(store), site=SavedOnly())
    headers = bearer(user_token(app.state.auth))
    with TestClient(app, headers=headers) as client:
        yield Api(client, state, site_file, store)
    database.close()


def test_get_config_is_the_file_with_frame_size_and_revision(api: Api) -> None:
    body = api.client.get("/api/cameras/gate/config").json()
    assert body["zones"] == {}
    assert body["lines"] == {"middle": {"start": [0.5, 0.05], "end": [0.5, 0.95]}}
    assert body["apps"] == [
        {
            "type": "line_crossing",
            "name": "crossings",
            "settings": {"line": "middle"},
            "enabled": True,
        }
    ]
    assert body["frame_size"] is None  # no frame yet
    assert len(body["revision"]) == 16
    api.state.apply(RawFrame("gate", time.time(), 416, 320, b"\xff\xd8jpeg"))
    assert api.client.get("/api/cameras/gate/config").json()["frame_size"] == [416, 320]
    frame = api.client.get("/api/cameras/gate/frame.jpg")
    assert frame.status_code == 200 and frame.content == b"\xff\xd8jpeg"
    assert frame.headers["x-frame-size"] == "416x320"
    assert api.client.get("/api/cameras/yard/frame.jpg").status_code == 404


def test_config_lists_the_classes_the_detector_finds(api: Api) -> None:
    """The settings forms pick classes from the model's: the site's `detector.classes` by
    name (ids as COCO names), all of COCO when the detector is not filtered."""
    body = api.client.get("/api/cameras/gate/config").json()
    assert body["classes"] == ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    text = api.site_file.read_text() + "detector: {classes: [person, 2]}\n"
    api.state.set_site(validate_site_text(text, api.site_file))
    assert api.client.get("/api/cameras/gate/config").json()["classes"] == ["person", "car"]
    api.state.set_site(validate_site_text(text.replace("[person, 2]", "null"), api.site_file))
    classes = api.client.get("/api/cameras/gate/config").json()["classes"]
    assert len(classes) == 80 and classes[:2] == ["person", "bicycle"]


def test_put_config_saves_to_the_file(api: Api) -> None:
    body = api.client.get("/api/cameras/gate/config").json()
    body["zones"]["door"] = {"points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}
    body["apps"].append({"type": "occupancy", "name": "count", "settings": {"zone": "door"}})
    response = api.client.put("/api/cameras/gate/config", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["applied"] == {"result": "saved", "error": None}  # no supervisor here
    assert [a["name"] for a in out["apps"]] == ["crossings", "count"]
    assert out["revision"] != body["revision"]
    text = api.site_file.read_text()
    assert "# Two cameras; comments must survive every edit." in text
    assert "  - type: line_crossing   # people in and out" in text
    camera = load_config(api.site_file, model=SiteConfig).camera("gate")
    assert list(camera.zones) == ["door"] and [a.name for a in camera.apps] == [
        "crossings",
        "count",
    ]
    # Audited: who changed which camera.
    audit = api.client.get("/api/audit").json()
    items = audit["items"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "camera.config.update" and e["target"] == "gate" for e in items)


def test_a_zone_calibration_round_trips_and_uncalibrated_zones_stay_plain(api: Api) -> None:
    body = api.client.get("/api/cameras/gate/config").json()
    road = [[0.1, 0.9], [0.9, 0.9], [0.6, 0.4], [0.4, 0.4]]
    metres = [[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]]
    body["zones"]["road"] = {"points": road, "ground": metres}
    body["zones"]["door"] = {"points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.3]]}
    response = api.client.put("/api/cameras/gate/config", json=body)
    assert response.status_code == 200, response.text
    assert "ground: null" not in api.site_file.read_text()
    zones = api.client.get("/api/cameras/gate/config").json()["zones"]
    assert zones["road"]["ground"] == metres and zones["door"].get("ground") is None
    body["zones"]["road"]["ground"] = [[0, 0], [5, 0], [10, 0], [0, 40]]
    refused = api.client.put("/api/cameras/gate/config", json={**body, "revision": None})
    assert refused.status_code == 422
    assert "three of the four ground points are in a line" in refused.text


def test_static_privacy_masks_through_the_config_api(api: Api) -> None:
    """The zone editor's static privacy masks: GET shows them, PUT saves them to the
    camera's ``privacy.static`` (audited), a PUT without them keeps them."""
    body = api.client.get("/api/cameras/gate/config").json()
    assert body["static_masks"] == []
    window = {"points": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.3]]}
    response = api.client.put("/api/cameras/gate/config", json={**body, "static_masks": [window]})
    assert response.status_code == 200, response.text
    assert response.json()["static_masks"] == [window]
    camera = load_config(api.site_file, model=SiteConfig).camera("gate")
    assert [m.points for m in camera.privacy.static] == [[(0.7, 0.0), (1.0, 0.0), (1.0, 0.3)]]
    body = api.client.get("/api/cameras/gate/config").json()
    del body["static_masks"]
    assert api.client.put("/api/cameras/gate/config", json=body).json()["static_masks"] == [window]
    bad = {**body, "static_masks": [{"points": [[0, 0], [1, 1]]}]}
    response = api.client.put("/api/cameras/gate/config", json=bad)
    assert response.status_code == 422
    assert (
        "static_masks[0].points: polygon needs at least 3 points, got 2"
        in response.json()["detail"]
    )
    audit = api.client.get("/api/audit").json()["items"]
    assert any(e["detail"].get("static_masks") == 1 for e in audit if e["target"] == "gate")


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        (
            {"zones": {"door": {"points": [[0, 0], [1, 1]]}}},
            422,
            "zones.door.points: polygon needs at least 3 points, got 2",
        ),
        (
            {"zones": {"door": {"pionts": [[0, 0], [1, 0], [1, 1]]}}},
            422,
            "zones.door.pionts: unknown key (did you mean 'points'?)",
        ),
        (
            {"apps": [{"type": "occupancy", "name": "count", "settings": {"zone": "nowhere"}}]},
            422,
            "site.yaml: cameras[0].apps[0]: unknown zone 'nowhere' (known: none defined)",
        ),
        (
            {"apps": [{"type": "occupancy", "settings": {"threshold": 0}}]},
            422,
            "site.yaml: cameras[0].apps[0].settings.threshold: must be >= 1, got 0",
        ),
        ({"revision": "0123456789abcdef"}, 409, "changed since it was read"),
    ],
)
def test_put_config_refuses_bad_input_in_one_line(
    api: Api, change: dict[str, Any], status: int, detail: str
) -> None:
    before = api.site_file.read_bytes()
    body = {"zones": {}, "lines": {}, "apps": [], **change}
    response = api.client.put("/api/cameras/gate/config", json=body)
    assert response.status_code == status, response.text
    message = response.json()["detail"]
    assert isinstance(message, str) and "\n" not in message
    assert detail in message, message
    assert api.site_file.read_bytes() == before


def test_put_config_not_json_is_one_line(api: Api) -> None:
    response = api.client.put(
        "/api/cameras/gate/config", content=b"{zones", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("request body is not valid JSON")


def test_app_instance_routes(api: Api) -> None:
    put = api.client.put(
        "/api/cameras/yard/apps/count",
        json={"type": "occupancy", "settings": {"report_interval": 5}},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "camera": "yard",
        "name": "count",
        "applied": {"result": "saved", "error": None},
    }
    disabled = api.client.put(
        "/api/cameras/yard/apps/count", json={"type": "occupancy", "enabled": False}
    )
    assert disabled.status_code == 200
    assert load_config(api.site_file, model=SiteConfig).camera("yard").apps[0].enabled is False
    bad = api.client.put(
        "/api/cameras/yard/apps/count", json={"type": "occupancy", "settings": {"x": 1}}
    )
    assert bad.status_code == 422
    assert "site.yaml: cameras[1].apps[0].settings.x: unknown key" in bad.json()["detail"]
    assert api.client.delete("/api/cameras/yard/apps/count").status_code == 200
    assert load_config(api.site_file, model=SiteConfig).camera("yard").apps == []
    missing = api.client.delete("/api/cameras/yard/apps/count")
    assert missing.status_code == 404 and "no app named 'count'" in missing.json()["detail"]
    assert api.client.get("/api/cameras/back/config").status_code == 404
    assert api.client.put("/api/cameras/back/apps/x", json={"type": "occupancy"}).status_code == 404


def test_apps_lists_builtins_with_schema_and_where_they_run(api: Api) -> None:
    apps = {a["id"]: a for a in api.client.get("/api/apps").json()}
    assert {"intrusion", "line_crossing", "occupancy", "loitering"} <= set(apps)
    crossing = apps["line_crossing"]
    assert crossing["origin"] == "builtin" and crossing["version"]
    assert "line" in crossing["settings_schema"]["properties"]
    assert crossing["instances"] == [
        {
            "camera": "gate",
            "name": "crossings",
            "enabled": True,
            "settings": {"line": "middle"},
            "state": "unknown",  # no worker reported
            "last_error": None,
            "restarts": 0,
            "counters": {},
            "version": None,  # store apps only
            "sandboxed": None,
            "memory_cgroup": None,
            "errors": 0,  # the boundary's counts (GuardedApp)
            "rejected": 0,
            "backoff_s": 0.0,
        }
    ]
    assert apps["occupancy"]["instances"] == []


def test_roles_and_cameras_are_enforced(api: Api) -> None:
    auth = api.client.app.state.auth
    viewer = bearer(user_token(auth, "viewer", "viewer"))
    operator = bearer(user_token(auth, "op", "operator", ["yard"]))
    body = {"zones": {}, "lines": {}, "apps": []}
    assert api.client.get("/api/cameras/gate/config", headers=viewer).status_code == 200
    assert api.client.put("/api/cameras/gate/config", json=body, headers=viewer).status_code == 403
    assert (
        api.client.put(
            "/api/cameras/yard/apps/x", json={"type": "occupancy"}, headers=operator
        ).status_code
        == 403
    )
    assert api.client.get("/api/cameras/gate/config", headers=operator).status_code in (403, 404)
    assert api.client.get("/api/apps", headers=viewer).status_code == 403
    runs = api.client.get("/api/apps", headers=operator).json()
    assert all(i["camera"] == "yard" for a in runs for i in a["instances"])
    no_token = httpx.Headers({"Authorization": ""})
    assert api.client.get("/api/cameras/gate/config", headers=no_token).status_code == 401


def test_viewers_see_a_cameras_apps_but_not_their_settings(api: Api) -> None:
    """App settings may hold what only those who run the site should read (a webhook's
    token); viewers get the scene with `settings: null`, operators as on /api/apps."""
    auth = api.client.app.state.auth
    viewer = bearer(user_token(auth, "viewer", "viewer"))
    operator = bearer(user_token(auth, "op", "operator", ["gate"]))
    seen = api.client.get("/api/cameras/gate/config", headers=viewer).json()
    assert [(a["name"], a["settings"]) for a in seen["apps"]] == [("crossings", None)]
    assert seen["lines"] and seen["revision"]  # the rest of the scene is theirs to see
    for who in (operator, None):  # None: the fixture's admin
        apps = api.client.get("/api/cameras/gate/config", headers=who).json()["apps"]
        assert [(a["name"], a["settings"]) for a in apps] == [("crossings", {"line": "middle"})]


# --------------------------------------------------------------------------- the worker


def walker_site(storage: Path, top: int = 110) -> SiteConfig:
    """One camera on the walker clip's frames: walker A stays in zone `top` (rows 16-96)
    and crosses the line `middle`."""
    return SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "cam",
                    "url": "walkers.mp4",
                    "record": {"mode": "off"},
                    "zones": {"top": {"points": [[0, 0], [416, 0], [416, top], [0, top]]}},
                    "lines": {"middle": {"start": [208, 0], "end": [208, 320]}},
                    "apps": [
                        {
                            "type": "line_crossing",
                            "name": "crossings",
                            "settings": {"line": "middle"},
                        },
                        {"type": "occupancy", "name": "count", "settings": {"zone": "top"}},
                        {"type": "intrusion", "name": "guard", "settings": {"zone": "top"}},
                    ],
                }
            ],
            "detector": {"input_size": [416, 320]},
            "storage": {"directory": str(storage)},
        }
    )


def test_worker_swaps_the_scene_between_frames(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    site = walker_site(tmp_path)
    sent: list[Any] = []
    worker = CameraWorker(WorkerSpec("cam", site, None, threading.Event()), sent.append)
    frames = [
        Frame("cam", i, i / walker_clip.fps, image, wall_time=1000.0 + i)
        for i, image in enumerate(walker_clip.images())
    ]
    engine, annotator = worker._build((416, 320))
    events = [e for frame in frames[:15] for e in engine.process(frame).events]
    crossings, count, guard = engine.apps
    tracker = engine.tracker
    tracks_before = set(engine.process(frames[15]).objects.tracker_id.tolist())
    opened = [e for e in events if e.app == "guard"]
    assert [e.state for e in opened] == ["start"]  # walker A's intrusion is open

    # Zone `top` moves (apps using it are built again), `guard` goes, `crossings` stays.
    changed = walker_site(tmp_path, top=120).cameras[0]
    changed.apps = [changed.apps[0], changed.apps[1]]
    worker._reconfigure = Reconfigure(changed, 7)
    annotator = worker._apply_reconfigure(engine, annotator)

    assert engine.apps[0] is crossings  # same settings, same shapes: the same instance
    assert engine.apps[1] is not count and engine.apps[1].name == "count"
    assert [a.name for a in engine.apps] == ["crossings", "count"]
    assert engine.tracker is tracker
    ended = [m.event for m in sent if isinstance(m, EventMessage)]
    assert [(e.id, e.state, e.attributes["reason"]) for e in ended] == [
        (opened[0].id, "end", "end_of_stream")
    ]
    answers = [m for m in sent if isinstance(m, Reconfigured)]
    assert [(a.camera, a.generation, a.error) for a in answers] == [("cam", 7, None)]
    assert worker.camera is changed
    statuses = {a.name: (a.enabled, a.state) for a in worker.status.apps}
    assert statuses == {"crossings": (True, "running"), "count": (True, "running")}

    # Tracks go on through the swap, and the kept app keeps counting.
    after = engine.process(frames[16])
    assert set(after.objects.tracker_id.tolist()) == tracks_before
    for frame in frames[17:]:
        engine.process(frame)
    assert sum(crossings.counters().values()) >= 2  # both walkers crossed the middle

    # A scene the worker cannot build is refused in one line; the running one stays.
    broken = changed.model_copy(
        update={
            "apps": [
                *changed.apps,
                changed.apps[1].model_copy(update={"name": "x", "settings": {"zone": "gone"}}),
            ]
        }
    )
    worker._reconfigure = Reconfigure(broken, 8)
    worker._apply_reconfigure(engine, annotator)
    answer = [m for m in sent if isinstance(m, Reconfigured)][-1]
    assert answer.generation == 8 and "unknown zone 'gone'" in answer.error
    assert "\n" not in answer.error
    assert [a.name for a in engine.apps] == ["crossings", "count"] and worker.camera is changed


# --------------------------------------------------------------------------- end to end

CAMERAS = ("gate", "yard")
STARTUP_S = 30.0
APPLY_S = 15.0  # a change saved to events of the new app (the clip's square crosses every 4 s)


@dataclass
class Live:
    """A running `vigil serve` on `site_file`, and an admin's HTTP client."""

    process: Any
    url: str
    work: Path
    site_file: Path
    log: ServiceLog
    http: httpx.Client
    models: Path

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.url + path, params=params)

    def wait(self, check: Any, what: str, timeout: float = APPLY_S) -> Any:
        assert self.process.poll() is None, f"vigil serve exited:\n{self.log.tail()}"
        return wait_for(check, timeout, what, log=self.log)

    def events(self, camera: str, app: str) -> list[dict[str, Any]]:
        return self.get("/api/events", camera=camera, app=app).json()["items"]

    def app_runs(self, app_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        apps = {a["id"]: a for a in self.get("/api/apps").json()}
        return {(i["camera"], i["name"]): i for i in apps[app_id]["instances"]}

    def pids(self, camera: str) -> list[int]:
        return self.log.worker_pids(camera)

    def states(self) -> dict[str, str]:
        return {c["id"]: c["state"] for c in self.get("/api/cameras").json()}


def live_site(rtsp: RtspServer, data: Path) -> str:
    cameras = ""
    for camera in CAMERAS:
        cameras += textwrap.dedent(
            f"""\
            - id: {camera}
              url: {rtsp.url("/" + camera)}
              detect_fps: 5
              record: {{mode: "off"}}
              lines:
                middle: {{start: [0.5, 0.05], end: [0.5, 0.95]}}   # crossed every 4 s
            """
        )
    return (
        "# Changed while vigil serve runs.\ncameras:\n"
        + textwrap.indent(cameras, "  ")
        + textwrap.dedent(
            f"""\
            detector: {{input_size: [416, 320]}}   # the clip's size: the blob detector's 80 px
            storage: {{directory: {data}}}
            server: {{host: 127.0.0.1, port: 0}}
            """
        )
    )


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: Path, rtsp_clip: Any
) -> Iterator[Live]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("live")
    clip = rtsp_clip(width=416, height=320, fps=15, seconds=4)
    paths = ("/gate", "/yard", "/yard-b")
    rtsp = RtspServer({p: {"source": f"file:{clip}"} for p in paths}).start()
    data = work / "data"
    site_file = work / "site.yaml"
    site_file.write_text(live_site(rtsp, data))
    http = admin_client(data)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], work, tiny_models)
    try:
        url = printed_url(process, stdout, log)
        service = Live(process, url, work, site_file, log, http, tiny_models)

        service.wait(
            lambda: set(service.states().values()) == {"online"}, "both cameras online", STARTUP_S
        )
        yield service
    finally:
        stop_process(process)
        rtsp.close()


def test_zone_and_app_added_through_the_api_run_without_a_restart(live: Live) -> None:
    pid = live.pids("gate")
    assert len(pid) == 1
    config = live.wait(
        lambda: (c := live.get("/api/cameras/gate/config").json())["frame_size"] and c,
        "the camera's frame size",
    )
    assert config["frame_size"] == [416, 320]
    frame = live.get("/api/cameras/gate/frame.jpg")
    image = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (320, 416, 3)

    config["zones"]["all"] = {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    config["apps"] += [
        {"type": "occupancy", "name": "count", "settings": {"zone": "all", "report_interval": 1}},
        {"type": "intrusion", "name": "guard", "settings": {"zone": "all"}},
    ]
    saved = live.http.put(live.url + "/api/cameras/gate/config", json=config)
    assert saved.status_code == 200, saved.text
    assert saved.json()["applied"] == {"result": "live", "error": None}
    assert "# Changed while vigil serve runs." in live.site_file.read_text()

    live.wait(lambda: live.events("gate", "count"), "occupancy events of the new app")
    run = live.wait(
        lambda: (
            (r := live.app_runs("occupancy").get(("gate", "count")))
            and r["state"] == "running"
            and r
        ),
        "the new app reported running",
    )
    assert run["enabled"] is True and "current" in run["counters"]
    assert live.events("yard", "count") == []  # only the camera that was changed
    assert live.pids("gate") == pid  # the same worker: no restart

    # An app removed while it has an open event ends that event (its finish() ran).
    opened = live.wait(
        lambda: [e for e in live.events("gate", "guard") if e["state"] == "start"],
        "an intrusion of the new app",
    )
    removed = live.http.delete(live.url + "/api/cameras/gate/apps/guard")
    assert removed.status_code == 200 and removed.json()["applied"]["result"] == "live"
    ended = live.wait(
        lambda: [
            e
            for e in live.events("gate", "guard")
            if e["id"] == opened[0]["id"] and e["state"] == "end"
        ],
        "the open intrusion ended",
    )
    assert ended[0]["attributes"]["reason"] in ("end_of_stream", "left", "lost")
    assert live.pids("gate") == pid


def test_app_enabled_from_the_command_line_runs_without_a_restart(live: Live) -> None:
    pid = live.pids("yard")
    result = invoke_vigil(
        "apps",
        "enable",
        "line_crossing",
        "--camera",
        "yard",
        "--name",
        "crossings",
        "--set",
        "line=middle",
        "--set",
        "classes=[person]",
        "-c",
        live.site_file,
        cwd=live.work,
        models=live.models,
    )
    assert result.returncode == 0, result
    live.wait(lambda: live.events("yard", "crossings"), "line crossings of the enabled app")
    assert live.pids("yard") == pid

    result = invoke_vigil(
        "apps",
        "disable",
        "crossings",
        "--camera",
        "yard",
        "-c",
        live.site_file,
        cwd=live.work,
        models=live.models,
    )
    assert result.returncode == 0, result
    live.wait(
        lambda: live.app_runs("line_crossing")[("yard", "crossings")]["state"] == "stopped",
        "the disabled app reported stopped",
    )
    assert live.pids("yard") == pid


def test_invalid_edits_are_refused_and_the_service_keeps_running(live: Live) -> None:
    pids = {c: live.pids(c) for c in CAMERAS}
    bad = live.http.put(
        live.url + "/api/cameras/gate/config", json={"zones": {"x": {"points": [[0, 0]]}}}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "zones.x.points: polygon needs at least 3 points, got 1"

    # A hand edit that does not validate: logged in one line, the running config is kept.
    good = live.site_file.read_text()
    live.site_file.write_text(good.replace("detect_fps: 5", "detect_fps: -5", 1))
    line = live.wait(
        lambda: [ln for ln in live.log.text().splitlines() if "site file not applied" in ln],
        "the refused site file in the log",
        timeout=10,
    )
    assert "cameras[0].detect_fps: must be > 0, got -5" in line[-1]
    live.site_file.write_text(good)
    time.sleep(2)  # the watcher reads it back in
    assert live.process.poll() is None
    assert all(c["up"] for c in live.get("/api/cameras").json())
    assert {c: live.pids(c) for c in CAMERAS} == pids


def test_a_changed_source_restarts_only_that_worker(live: Live) -> None:
    gate, yard = live.pids("gate"), live.pids("yard")
    text = live.site_file.read_text()
    assert text.count("/yard\n") == 1
    live.site_file.write_text(text.replace("/yard\n", "/yard-b\n"))
    live.wait(lambda: len(live.pids("yard")) == len(yard) + 1, "the yard worker restarted")
    live.wait(
        lambda: live.states()["yard"] == "online",
        "the yard camera online on its new source",
        timeout=STARTUP_S,
    )
    assert live.pids("gate") == gate
    assert "yard-b" in live.get("/api/cameras/yard").json()["url"]


def test_cameras_added_and_removed_start_and_stop_their_worker(live: Live) -> None:
    gate = live.pids("gate")
    text = live.site_file.read_text()
    url = (
        load_config(live.site_file, model=SiteConfig).camera("gate").url.replace("/gate", "/yard-b")
    )
    extra = f'  - id: extra\n    url: {url}\n    detect_fps: 5\n    record: {{mode: "off"}}\n'
    live.site_file.write_text(text.replace("detector:", extra + "detector:", 1))
    live.wait(lambda: live.states().get("extra") == "online", "the added camera online", STARTUP_S)
    assert len(live.pids("extra")) == 1

    live.site_file.write_text(text)
    live.wait(lambda: "extra" not in live.states(), "the removed camera gone from the API")
    live.wait(
        lambda: "camera extra: worker stopped (camera removed or disabled)" in live.log.text(),
        "the removed camera's worker stopped",
    )
    assert live.pids("gate") == gate
