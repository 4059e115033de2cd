"""A store app inside `vigil serve`: it runs sandboxed in the camera worker's analysis, its
events and counters reach the API, and its sandbox does not outlive a killed worker."""

from __future__ import annotations

import json
import os
import re
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import HERE, descendants

from rtsp.harness import RtspServer, unavailable_reason
from service.test_serve_e2e import (
    admin_client,
    printed_url,
    running,
    start_service,
    stop_process,
    wait_for,
)
from vigil.appstore.installed import InstallRecord, write_records


def _hosts(pid: int) -> set[int]:
    """The sandbox hosts below process `pid` (inside bubblewrap or bare)."""
    hosts = set()
    for p in descendants(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"vigil.sandbox.host" in cmdline and b"--" not in cmdline:
            hosts.add(p)
    return hosts


def install_ticker(root: Path) -> None:
    """The ticker test app laid out as the store installs it, with its installed.json."""
    install_apps(root, ticker={"zone": {"type": "string"}})


def install_apps(root: Path, **apps: dict[str, Any]) -> None:
    """Test apps (module name -> settings properties) laid out as the store installs them,
    with their installed.json."""
    records = {}
    for app_id, properties in apps.items():
        source = HERE / "apps" / f"{app_id}.py"
        if not source.exists():
            source = HERE / "hostile" / f"{app_id}.py"
        module = source.read_text()
        version_dir = root / app_id / "1.0.0"
        (version_dir / "site").mkdir(parents=True)
        (version_dir / "site" / f"{app_id}.py").write_text(module)
        cls = re.search(r"^class (\w+)\(App\)", module, re.M)[1]
        emits = re.search(r"emits = \((.*?)\)", module)[1]
        manifest = {
            "id": app_id,
            "name": app_id,
            "version": "1.0.0",
            "vendor": "tests",
            "sdk": ">=1.0,<2",
            "data": "tracks",
            "settings_schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
            "events": re.findall(r'"(\w+)"', emits),
            "entry_point": f"{app_id}:{cls}",
        }
        (version_dir / "manifest.json").write_text(json.dumps(manifest))
        records[app_id] = InstallRecord("1.0.0", "0" * 64, "tests", None, "2026-01-01T00:00:00Z")
    write_records(records, root)


def site(rtsp: RtspServer, data: Path) -> str:
    return textwrap.dedent(
        f"""\
        cameras:
          - id: cam
            url: {rtsp.url("/cam")}
            detect_fps: 5
            record: {{mode: "off"}}
            zones:
              left: {{points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}
            apps:
              - {{type: ticker, name: ticks, settings: {{zone: left}}}}
        detector: {{input_size: [416, 320]}}
        storage: {{directory: {data}}}
        server: {{host: 127.0.0.1, port: 0}}
        """
    )


def test_store_app_runs_sandboxed_in_serve_and_dies_with_its_worker(
    tmp_path: Path,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    apps_root = tmp_path / "apps"
    install_ticker(apps_root)
    monkeypatch.setenv("VIGIL_APPS_DIR", str(apps_root))
    clip = rtsp_clip(width=416, height=320, fps=15, seconds=4)
    rtsp = RtspServer({"/cam": {"source": f"file:{clip}"}}).start()
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(site(rtsp, data))
    http = admin_client(data)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    try:
        url = printed_url(process, stdout, log)

        def ticker_run() -> dict[str, Any] | None:
            apps = {a["id"]: a for a in http.get(url + "/api/apps").json()}
            [run] = apps["ticker"]["instances"]
            return run if run["state"] == "running" and run["counters"].get("frames") else None

        run = wait_for(ticker_run, 40, "the sandboxed app running with counters", log=log)
        assert run["restarts"] == 0 and run["last_error"] is None
        events = wait_for(
            lambda: http.get(url + "/api/events", params={"app": "ticks"}).json()["items"],
            20,
            "events of the sandboxed app",
            log=log,
        )
        assert {e["type"] for e in events} == {"tick"}
        assert {e["camera"] for e in events} == {"cam"}
        assert all(e["attributes"]["objects"] >= 0 for e in events)

        worker = log.worker_pids("cam")[-1]
        hosts = wait_for(lambda: _hosts(worker), 10, "the sandbox host under the worker", log=log)
        os.kill(worker, signal.SIGKILL)
        wait_for(
            lambda: not any(running(p) for p in hosts),
            10,
            "the sandbox of a killed worker to exit",
            log=log,
        )
        # the supervisor restarts the worker, which starts the app afresh
        wait_for(ticker_run, 40, "the app running again in the new worker", log=log)
    finally:
        stop_process(process)
        rtsp.close()
    assert "Traceback" not in log.text(), log.tail()


def test_hostile_events_in_serve_leave_no_trace_outside_their_camera(
    tmp_path: Path,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Event ids that are paths and events that cannot be stored, from a sandboxed app in
    `vigil serve`: snapshots only under the camera's folder with Vigil's ids, the events
    API answers, the good app on the same camera runs on untouched."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    escaped = Path("/tmp/escaped.jpg")  # where the id forger aims
    escaped.unlink(missing_ok=True)
    apps_root = tmp_path / "apps"
    attack = {"attack": {"type": "string"}}
    install_apps(apps_root, ticker={"zone": {"type": "string"}}, vandal=attack)
    monkeypatch.setenv("VIGIL_APPS_DIR", str(apps_root))
    clip = rtsp_clip(width=416, height=320, fps=15, seconds=4)
    rtsp = RtspServer({"/cam": {"source": f"file:{clip}"}}).start()
    data = tmp_path / "data"
    ticker = "      - {type: ticker, name: ticks, settings: {zone: left}}\n"
    vandals = (
        "      - {type: vandal, name: ids, settings: {attack: ids}}\n"
        "      - {type: vandal, name: values, settings: {attack: values}}\n"
    )
    assert ticker in site(rtsp, data)
    (tmp_path / "site.yaml").write_text(site(rtsp, data).replace(ticker, ticker + vandals))
    http = admin_client(data)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    try:
        url = printed_url(process, stdout, log)

        def events_of(app: str) -> list[dict[str, Any]]:
            answer = http.get(url + "/api/events", params={"app": app, "limit": 500})
            assert answer.status_code == 200, answer.text
            return answer.json()["items"]

        wait_for(lambda: len(events_of("ids")) > 10, 60, "events of the id forger", log=log)
        values = wait_for(lambda: events_of("values"), 20, "the good events of 'values'", log=log)
        ticks = wait_for(lambda: events_of("ticks"), 20, "the good app's events", log=log)

        def reported() -> dict[str, dict[str, Any]] | None:
            runs = {
                r["name"]: r for a in http.get(url + "/api/apps").json() for r in a["instances"]
            }
            return runs if runs["values"]["last_error"] and runs["ticks"]["counters"] else None

        instances = wait_for(reported, 20, "the rejections in the app's status", log=log)
    finally:
        stop_process(process)
        rtsp.close()
    assert {e["type"] for e in ticks} == {"tick"}
    assert instances["ticks"]["state"] == "running" and instances["ticks"]["last_error"] is None
    assert all(e["attributes"] == {"ok": True} for e in values), values[:3]
    assert "event rejected" in (instances["values"]["last_error"] or ""), instances["values"]
    snapshots = data / "snapshots"
    files = [p.relative_to(snapshots) for p in snapshots.rglob("*") if p.is_file()]
    assert files and all(
        p.parent == Path("cam") and re.fullmatch(r"[0-9a-f]{32}\.(jpg|boxes\.json)", p.name)
        for p in files
    ), files
    assert not escaped.exists()
    assert "Traceback" not in log.text(), log.tail()
