"""``GET /api/system``: the System page's data. Process groups are real processes of this
test's tree (a detector and a camera worker started as the service starts them, the worker
with a child of its own as a sandboxed app has); the disk forecast and the latency history
come from segments and statuses as the supervisor hands them over."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess

import psutil
import pytest

from api.site import Site, status
from vigil.recording.segments import SegmentInfo
from vigil.service.processes import start_process, stop_processes


@pytest.fixture
def processes() -> Iterator[tuple[BaseProcess, BaseProcess, BaseProcess]]:
    detector = start_process(time.sleep, (60,), "vigil-detector")
    worker = start_process(subprocess.run, (["sleep", "60"],), "vigil-cam1")
    # cam2's worker has not reported yet: it is known by its process name
    starting = start_process(time.sleep, (60,), "vigil-cam2")
    try:
        yield detector, worker, starting
    finally:
        for process in (detector, worker):
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
        stop_processes([detector, worker, starting], grace=2.0)


def test_process_groups_name_the_detector_each_worker_and_its_apps(
    site: Site, processes: tuple[BaseProcess, BaseProcess, BaseProcess]
) -> None:
    detector, worker, starting = processes
    site.state.apply(status("cam1", site.clock.now, pid=worker.pid))
    deadline = time.monotonic() + 10  # the worker's own child (its "app") starts
    while not psutil.Process(worker.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    app = psutil.Process(worker.pid).children()[0].pid
    site.client.get("/api/system").raise_for_status()  # the baseline of the CPU sample
    body = site.client.get("/api/system").json()
    groups = {g["name"]: g for g in body["processes"]}
    # This process, and the fork server its children were started from.
    service = groups["Service (API, supervisor)"]["pids"]
    assert service[0] == os.getpid()
    starters = {psutil.Process(p.pid).ppid() for p in (detector, worker, starting)}
    assert service[1:] == sorted(starters) and os.getpid() not in starters
    assert groups["Detector"]["pids"] == [detector.pid]
    assert groups["Camera cam1"]["pids"] == [worker.pid]
    assert groups["Camera cam2"]["pids"] == [starting.pid]
    assert groups["Sandboxed apps of cam1"]["pids"] == [app]
    assert groups["Sandboxed apps of cam1"]["kind"] == "apps"
    assert all(g["memory_bytes"] > 0 and g["cpu_percent"] >= 0 for g in groups.values())
    assert body["version"] and body["cpu_count"] >= 1 and body["uptime_s"] >= 0
    assert {c["key"] for c in body["checks"]} == {"cpu", "memory", "disk", "latency", "cameras"}


def test_days_of_recording_left_at_the_current_rate(site: Site) -> None:
    (site.tmp / "data").mkdir()
    body = site.client.get("/api/system").json()
    assert body["disk"]["days_left"] is None and body["disk"]["write_bytes_per_day"] == 0
    disk = {c["key"]: c for c in body["checks"]}["disk"]
    assert (disk["value"], disk["level"], disk["advice"]) == ("not recording", "ok", None)

    # Half an hour of recording, 10 GB of it: at that rate a day writes 480 GB.
    now = site.clock.now
    for camera in ("cam1", "cam2"):
        segment = SegmentInfo(camera, "x.mp4", now - 1800, now - 1790, 5 * 10**9)
        site.index.segments.append(segment)
    body = site.client.get("/api/system").json()
    free = body["disk"]["free_bytes"]
    assert body["disk"]["write_bytes_per_day"] == pytest.approx(480e9)
    assert body["disk"]["days_left"] == pytest.approx(free / 480e9, rel=0.01)
    disk = {c["key"]: c for c in body["checks"]}["disk"]
    if free < 7 * 480e9:  # any disk of this machine under 3.3 TB free
        assert disk["level"] == "warning" and "keep recordings fewer days" in disk["advice"]


def test_latency_over_time_and_its_warning(site: Site) -> None:
    now = site.clock.now
    for i, ms in enumerate([40.0, 45.0, 700.0]):
        site.clock.now = now + 10 * i
        site.state.apply(status("cam1", site.clock.now, detector_latency_ms=ms))
        # A second status within 10 s is not kept in the history.
        site.state.apply(status("cam1", site.clock.now + 1, detector_latency_ms=ms + 1))
        site.state.apply(status("cam2", site.clock.now, detector_latency_ms=20.0))
    body = site.client.get("/api/system").json()
    assert body["latency"]["cam1"] == [[now, 40.0], [now + 10, 45.0], [now + 20, 700.0]]
    assert body["latency"]["lab"] == []
    latency = {c["key"]: c for c in body["checks"]}["latency"]
    # The check reads the latest status.
    assert latency["level"] == "warning" and latency["value"] == "701 ms (slowest camera)"
    assert "lower detect_fps" in latency["advice"]
    cameras = {c["key"]: c for c in body["checks"]}["cameras"]
    assert cameras["level"] == "ok"  # lab is disabled
