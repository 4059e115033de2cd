"""A small disk filled many times over: a real `vigil serve` records a real RTSP camera onto a
40 MB tmpfs (the database, snapshots and recordings all on it) with a tiny disk budget and
the default occupancy app (an event, with a snapshot, every 10 s, so every segment is
referenced by an event).

Expected: the API answers 2xx throughout (logins and token use included), health reports the
disk pressure, the newest footage is there, the oldest is gone, and nothing ever found the
disk full. `VIGIL_DISK_TEST_S` sets how long it records (default 200 s; the camera writes
about 0.6 MB/s, so 40 MB fill up in about a minute).

Needs root (to mount the tmpfs), GStreamer's RTSP server (tests/rtsp) and is skipped without.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accounts import PASSWORD, fast_auth, user_token
from rtsp.harness import RtspServer, unavailable_reason
from service.test_serve_e2e import printed_url, start_service, stop_process
from vigil.db.database import Database
from vigil.events import EventStore

DISK_MB = 40
BITRATE_KBPS = 5000  # "snow" encodes at the bitrate asked: ~0.6 MB/s
FLOOR_MB = 6
BUDGET_GB = 0.008  # 8 MB
DURATION_S = float(os.environ.get("VIGIL_DISK_TEST_S", "200"))
TIMEOUT_S = 60.0  # per request: the machine may be loaded; no answer at all is a failure


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def site_yaml(url: str, data: Path) -> str:
    return textwrap.dedent(
        f"""\
        cameras:
          - id: cam
            url: {url}
            detect_fps: 2
            record: {{mode: continuous, segment_seconds: 2}}
            apps:
              - {{type: occupancy, name: occupancy}}
        detector: {{input_size: [416, 320]}}
        storage:
          directory: {data}
          disk_budget_gb: {BUDGET_GB}
          min_free_mb: {FLOOR_MB}
        server: {{host: 127.0.0.1, port: 0}}
        """
    )


def test_a_full_disk_keeps_the_api_up_and_the_newest_footage(
    small_disk: Path, tmp_path: Path, tiny_models: Path
) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    data = small_disk / "data"
    with Database(f"sqlite:///{data / 'vigil.db'}") as database:
        events = EventStore(database)
        auth = fast_auth(events)
        token = user_token(auth, "admin", "admin")
        user_token(auth, "viewer", "viewer")
    mount = {"source": "snow", "width": 640, "height": 360, "fps": 15, "bitrate": BITRATE_KBPS}
    rtsp = RtspServer({"/cam": mount}).start()
    (tmp_path / "site.yaml").write_text(site_yaml(rtsp.url("/cam"), data))
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    http = httpx.Client(timeout=TIMEOUT_S, headers={"Authorization": f"Bearer {token}"})
    failures: list[str] = []
    seen: dict[str, int] = {}  # segment file -> size, every file the camera ever finished
    snapshots_seen: dict[str, None] = {}  # every snapshot file, in the order first seen
    pressure_seen = False
    min_free = DISK_MB * 10**6
    try:
        url = printed_url(process, stdout, log)

        def get(path: str, **params: object) -> httpx.Response | None:
            try:
                response = http.get(url + path, params=params)
            except httpx.TransportError as err:  # no answer in TIMEOUT_S, a reset connection
                failures.append(f"GET {path}: {err!r}")
                return None
            if not 200 <= response.status_code < 300:
                failures.append(f"GET {path}: {response.status_code} {response.text[:200]}")
            return response

        started = time.monotonic()
        next_report = started + 300
        last_login = 0.0
        while time.monotonic() - started < DURATION_S:
            assert process.poll() is None, f"vigil serve exited:\n{log.tail()}"
            for path in (data / "recordings").rglob("*.mp4"):
                with contextlib.suppress(OSError):  # deleted meanwhile
                    seen[str(path)] = path.stat().st_size
            snapshots_seen.update(
                dict.fromkeys(str(p) for p in (data / "snapshots").rglob("*.jpg"))
            )
            min_free = min(min_free, os.statvfs(data).f_bavail * os.statvfs(data).f_frsize)
            health = get("/api/health")
            pressure_seen = pressure_seen or bool(health and health.json()["disk_pressure"])
            get("/api/cameras")
            get("/api/events", limit=20)
            get("/api/counts", interval=60)
            get("/api/recordings", camera="cam", start=time.time() - 600)
            if time.monotonic() - last_login > 20:  # a session: a row written at login
                last_login = time.monotonic()
                with httpx.Client(timeout=TIMEOUT_S) as browser:
                    try:
                        login = browser.post(
                            url + "/api/auth/login",
                            json={"username": "viewer", "password": PASSWORD},
                        )
                        me = browser.get(url + "/api/events", params={"limit": 5})
                    except httpx.TransportError as err:
                        failures.append(f"login: {err!r}")
                    else:
                        if login.status_code != 200 or me.status_code != 200:
                            failures.append(f"login: {login.status_code}, then {me.status_code}")
            if time.monotonic() >= next_report:  # figures along the way of a long run
                next_report += 300
                print(
                    f"\n{time.monotonic() - started:.0f} s: {sum(seen.values()) / 1e6:.1f} MB "
                    f"recorded, lowest free {min_free / 1e6:.1f} MB, {len(failures)} failed "
                    f"requests {failures[:2]}",
                    flush=True,
                )
            time.sleep(1.0)

        written = sum(seen.values())
        on_disk = {str(p) for p in (data / "recordings").rglob("*.mp4")}
        print(
            f"\n{DURATION_S:.0f} s: {written / 1e6:.1f} MB recorded in {len(seen)} segments on a "
            f"{DISK_MB} MB disk ({written / (DISK_MB * 1e6):.1f}x), {len(on_disk)} kept; "
            f"lowest free space {min_free / 1e6:.1f} MB; snapshots seen {len(snapshots_seen)}; "
            f"{len(failures)} failed requests"
        )
        assert not failures, f"{len(failures)} failed requests, first: {failures[:5]}"
        assert written > 2 * DISK_MB * 10**6, f"only {written} bytes recorded in {DURATION_S} s"
        assert pressure_seen, "health never reported disk pressure"
        # The newest footage: segments up to the last seconds.
        recent = http.get(
            url + "/api/recordings", params={"camera": "cam", "start": time.time() - 60}
        ).json()
        assert recent["segments"], recent
        newest = max(s["end_time"] for s in recent["segments"])
        assert time.time() - newest < 20, (
            f"the newest segment ended {time.time() - newest:.0f} s ago"
        )
        # The oldest is gone: files, rows and early snapshots.
        first = min(seen)
        assert not Path(first).exists()
        assert len(on_disk) < len(seen) / 2, (len(on_disk), len(seen))
        if snapshots_seen:  # names are random event ids: the oldest is the first one seen
            assert not Path(next(iter(snapshots_seen))).exists()
        assert min_free > 0
        text = log.text()
        assert "database or disk is full" not in text and "No space left" not in text, log.tail()
    finally:
        http.close()
        stop_process(process)
        rtsp.close()
