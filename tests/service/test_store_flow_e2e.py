"""From ``vigil store search`` to an app running on a camera of a RUNNING ``vigil serve``: three
commands, no restart — then ``vigil apps upgrade`` swaps the running version, still without a
restart, and ``vigil apps remove`` refuses while a camera runs the app."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appstore.store_helpers import example_wheel
from cli.cli_helpers import assert_one_line_error, run_vigil
from rtsp.harness import RtspServer, unavailable_reason
from service.test_serve_e2e import (
    admin_client,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)
from vigil.appstore.keys import generate_keypair, trust_key
from vigil.appstore.publish import publish
from vigil.sandbox.bwrap import launcher


def site(rtsp: RtspServer, data: Path) -> str:
    return textwrap.dedent(
        f"""\
        cameras:
          - id: door
            url: {rtsp.url("/door")}
            detect_fps: 5
            record: {{mode: "off"}}
            zones:
              west: {{points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}
        detector: {{input_size: [416, 320]}}
        storage: {{directory: {data}}}
        server: {{host: 127.0.0.1, port: 0}}
        """
    )


def test_search_install_enable_upgrade_on_a_running_service(
    tmp_path: Path,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    catalog, keys = tmp_path / "catalog", tmp_path / "vendor"
    monkeypatch.setenv("VIGIL_APPS_DIR", str(tmp_path / "apps"))
    monkeypatch.setenv("VIGIL_TRUSTED_KEYS", str(tmp_path / "trusted"))
    monkeypatch.setenv("VIGIL_CATALOG", str(catalog))
    key, pub = generate_keypair(keys, "acme")
    trust_key(pub)
    publish(example_wheel(tmp_path / "build", tmp_path / "w1"), str(catalog), key)

    clip = rtsp_clip(width=416, height=320, fps=15, seconds=4)
    rtsp = RtspServer({"/door": {"source": f"file:{clip}"}}).start()
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(site(rtsp, data))
    http = admin_client(data)
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)

    def vigil(*args: str):
        return run_vigil(*args, cwd=tmp_path, models=tiny_models)

    def instance(version: str) -> dict[str, Any] | None:
        apps = {a["id"]: a for a in http.get(url + "/api/apps").json()}
        runs = apps.get("queue_length", {}).get("instances", [])
        # answering frames (counters come with the answers), not just started
        ok = [r for r in runs if r["state"] == "running" and r["version"] == version]
        ok = [r for r in ok if r["counters"]]
        return ok[0] if ok else None

    def events_after(since: float) -> list[dict[str, Any]]:
        items = http.get(url + "/api/events", params={"app": "queue"}).json()["items"]
        return [e for e in items if e["type"] == "queue_length" and e["start_time"] >= since]

    try:
        url = printed_url(process, stdout, log)
        wait_for(lambda: log.worker_pids("door"), 30, "the camera's worker", log=log)
        worker = log.worker_pids("door")

        # 1. search, 2. install, 3. enable
        r = vigil("store", "search", "queue")
        assert r.returncode == 0 and r.stdout.startswith("queue_length 1.0.0"), r
        assert "trusted" in r.stdout and "NOT trusted" not in r.stdout, r
        r = vigil("apps", "install", "queue_length")
        assert r.returncode == 0 and "installed queue_length 1.0.0" in r.stdout, r
        enabled_at = time.time()
        r = vigil(
            *("apps", "enable", "queue_length", "--camera", "door", "--name", "queue"),
            *("--set", "zone=west", "--set", "report_interval=0.5", "-c", "site.yaml"),
        )
        assert r.returncode == 0, r
        run = wait_for(lambda: instance("1.0.0"), 30, "queue_length 1.0.0 running", log=log)
        running_s = time.time() - enabled_at
        assert run["camera"] == "door" and run["name"] == "queue"
        assert run["sandboxed"] is launcher().sandboxed and run["restarts"] == 0
        first = wait_for(lambda: events_after(enabled_at - 1), 20, "its events", log=log)
        first_event_s = min(e["start_time"] for e in first) - enabled_at
        assert {e["camera"] for e in first} == {"door"}

        # a newer version is published; the running service picks up the upgrade
        publish(
            example_wheel(tmp_path / "build", tmp_path / "w11", version="1.1.0"),
            str(catalog),
            key,
        )
        upgraded_at = time.time()
        r = vigil("apps", "upgrade", "queue_length")
        assert r.returncode == 0 and "installed queue_length 1.1.0 (was 1.0.0)" in r.stdout, r
        run = wait_for(lambda: instance("1.1.0"), 30, "queue_length 1.1.0 running", log=log)
        upgrade_s = time.time() - upgraded_at
        assert run["restarts"] == 0 and run["last_error"] is None
        apps = {a["id"]: a for a in http.get(url + "/api/apps").json()}
        assert apps["queue_length"]["version"] == "1.1.0"
        since = time.time()
        assert wait_for(lambda: events_after(since), 20, "events of 1.1.0", log=log)
        assert log.worker_pids("door") == worker  # no restart: the same camera worker

        # remove refuses while the camera runs it, naming the camera
        assert_one_line_error(
            vigil("apps", "remove", "queue_length", "-c", "site.yaml"),
            "'queue_length' is enabled on camera(s) door",
            "--force",
        )
        assert vigil("apps", "list").stdout.count("queue_length") == 1
    finally:
        stop_process(process)
        rtsp.close()
    assert "Traceback" not in log.text(), log.tail()
    print(
        f"\nenable -> running {running_s:.1f} s, -> first event {first_event_s:.1f} s; "
        f"upgrade -> new version running {upgrade_s:.1f} s"
    )
