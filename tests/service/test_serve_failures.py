"""`vigil serve` when things go wrong, as a user meets it: real processes on 127.0.0.1.

A camera that cannot start (its file is missing, its stream is garbage) is one line in the
log and its reason in the camera's status, never a traceback; the API port already taken
fails in one line before anything starts (`vigil demo`: before it transcodes); a worker
killed just before SIGTERM does not wedge the shutdown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from rtsp.harness import free_port, write_clip
from service.test_serve_e2e import (
    admin_client,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)
from sources.test_live_mjpeg import GarbageMjpeg


def site_text(data: Path, cameras: str) -> str:
    return (
        f"cameras:\n{cameras}"
        "detector: {input_size: [416, 320]}\n"
        f"storage: {{directory: {data}}}\n"
        "server: {host: 127.0.0.1, port: 0}\n"
    )


def camera_line(camera: str, url: Path | str) -> str:
    return (
        f"  - {{id: {camera}, url: '{url}', loop: true, detect_fps: 5, record: {{mode: 'off'}}}}\n"
    )


def serve(tmp_path: Path, models: Path, cameras: str):
    """`vigil serve` on a site of `cameras`; returns (process, url, log, admin client)."""
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(site_text(data, cameras))
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, models)
    url = printed_url(process, stdout, log)
    return process, url, log, admin_client(data)


def camera(http: httpx.Client, url: str, camera_id: str) -> dict:
    return http.get(f"{url}/api/cameras/{camera_id}").json()


def test_sigterm_right_after_a_worker_was_killed_stops_the_service(
    tmp_path: Path, tiny_models: Path
):
    """A worker SIGKILLed, then SIGTERM while its restart waits out the backoff: the service
    stops within seconds (it used to hang for good, deaf to further signals)."""
    clip = write_clip(tmp_path / "clip.mp4", 416, 320, 15, 4)
    process, url, log, http = serve(tmp_path, tiny_models, camera_line("door", clip))
    try:
        wait_for(lambda: camera(http, url, "door")["up"], 30, "door online", log=log)
        os.kill(log.worker_pids("door")[-1], signal.SIGKILL)
        wait_for(lambda: "restart in" in log.text(), 5, "the restart backoff", log=log)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(8)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vigil serve still running 8 s after SIGTERM:\n{log.tail()}")
        assert code == 0, log.tail()
        assert "Traceback" not in log.text()
    finally:
        stop_process(process, signal.SIGKILL)


def test_a_camera_that_cannot_start_is_one_line_and_its_status(tmp_path: Path, tiny_models: Path):
    """A camera whose file is missing (its worker fails at start, again at each restart),
    one whose file is garbage, one that streams garbage and one whose RTSP server refuses
    the connection: each is one line in the log and its reason in the camera's status (API,
    live grid, System page) with since when, no traceback, and none is online."""
    missing = tmp_path / "gone.mp4"
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(os.urandom(200_000))
    static = GarbageMjpeg().start()
    refused = f"rtsp://127.0.0.1:{free_port()}/cam1"
    cameras = camera_line("ghost", missing)
    cameras += camera_line("noise", noise) + camera_line("static", static.url)
    cameras += camera_line("gate", refused)
    started = time.monotonic()
    process, url, log, http = serve(tmp_path, tiny_models, cameras)
    try:
        first = wait_for(
            lambda: (s := camera(http, url, "ghost")["status"]) and s["state"] == "offline" and s,
            60,
            "ghost offline",
            log=log,
        )
        assert first["error"] == f"video source not found: {missing}"
        assert first["reason"] == first["error"] and first["since"] <= first["updated_at"]
        # Its worker was restarted (after the backoff) and failed again, as quietly; the
        # camera is down since the first one failed.
        again = wait_for(
            lambda: (
                (s := camera(http, url, "ghost")["status"])
                and s["updated_at"] > first["updated_at"]
                and s
            ),
            20,
            "ghost's next worker to fail",
            log=log,
        )
        assert again["since"] == first["since"]
        listed = {c["id"]: c for c in http.get(f"{url}/api/cameras").json()}
        assert listed["ghost"]["reason"] == first["error"] and not listed["ghost"]["up"]
        assert listed["ghost"]["since"] == first["since"]
        gate = wait_for(
            lambda: (s := camera(http, url, "gate")["status"]) and s["error"] and s,
            20,
            "gate's error",
            log=log,
        )
        assert gate["state"] == "reconnecting"
        assert gate["reason"] == f"{refused}: connection refused", gate
        assert gate["since"] <= gate["updated_at"] and gate["last_frame_at"] is None
        noisy = wait_for(
            lambda: (s := camera(http, url, "noise")["status"]) and s["error"] and s,
            20,
            "noise's error",
            log=log,
        )
        assert noisy["state"] == "reconnecting" and str(noise) in noisy["error"]
        garbled = wait_for(
            lambda: (s := camera(http, url, "static")["status"]) and s["error"] and s,
            30,
            "static's error",
            log=log,
        )
        assert garbled["error"].startswith(f"{static.url}: data arrives, but no picture decoded")
        assert garbled["state"] == "starting" and garbled["frames_in"] == 0
        text = log.text()
        assert "Traceback" not in text, text
        minutes = (time.monotonic() - started) / 60  # a camera still down is said once a minute
        for name in ("ghost", "noise", "static", "gate"):
            said = [ln for ln in text.splitlines() if f"camera {name}" in ln and "INFO" not in ln]
            assert 1 <= len(said) <= 1 + minutes, said
            assert len({ln.split(" ", 2)[2] for ln in said}) == 1, said  # past the time stamp
    finally:
        stop_process(process)
        static.stop()
    assert process.returncode == 0, log.tail()


def test_demo_with_its_port_taken_fails_in_one_line_before_transcoding(
    tmp_path: Path, tiny_models: Path
):
    """The sample clip (MPEG-4: transcoded on the first start, which takes a while) is not
    even read when the port is taken: one line, exit 2, nothing written."""
    video = tmp_path / "sample.avi"
    video.write_bytes(b"not read")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["demo", str(video), "--port", str(port), "--data", "demo"]
        process, _, log = start_service(args, tmp_path, tiny_models)
        try:
            code = process.wait(30)
        finally:
            stop_process(process, signal.SIGKILL)
    assert code == 2, log.tail()
    assert log.text().strip().splitlines() == [
        f"vigil: error: the API cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not (tmp_path / "demo" / "site.yaml").exists()


def test_a_missing_execution_provider_is_one_line_and_exit_2(tmp_path: Path, tiny_models: Path):
    from vigil.detection.providers import AUTO_ORDER, available_devices

    present = available_devices()
    missing = [d for d in AUTO_ORDER if d not in present]
    if not missing:
        pytest.skip("every execution provider is installed here")
    text = site_text(tmp_path / "data", "  - {id: cam1, url: rtsp://127.0.0.1:9/x}\n")
    text = text.replace("input_size: [416, 320]", f"input_size: [416, 320], device: {missing[0]}")
    (tmp_path / "site.yaml").write_text(text)
    process, _, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vigil serve still running without its detector:\n{log.tail()}")
    finally:
        stop_process(process, signal.SIGKILL)
    assert code == 2, log.tail()
    assert "Traceback" not in log.text()
    last = log.text().strip().splitlines()[-1]
    assert last.startswith(f"vigil: error: detector.device: {missing[0]!r} is not available"), last
    assert f"(available: {', '.join(present)}; for {missing[0]} install " in last
