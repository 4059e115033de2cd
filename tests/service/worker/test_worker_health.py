"""A camera that stops sending pictures says so, and since when: a real camera worker process
on a real RTSP server that is frozen (SIGSTOP: its sockets stay open, nothing is sent), its
statuses taken in by the service's `ServiceState` as the supervisor does."""

from __future__ import annotations

import queue
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rtsp.harness import RtspServer
from vigil.api.state import ServiceState
from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import CameraStatus, WorkerMessage
from vigil.service.pool import WorkerPool

SMALL = {"codec": "h264", "width": 320, "height": 240, "fps": 15}


def wait_status(
    pool: WorkerPool, inbox: queue.Queue[WorkerMessage], state: ServiceState, wanted: str
) -> CameraStatus:
    """Feed the worker's messages to `state` until the camera's status is `wanted`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pool.watch()
        try:
            message = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        state.apply(message)
        status = state.status("door")
        if isinstance(message, CameraStatus) and status is not None and status.state == wanted:
            return status
    raise AssertionError(f"the camera never was {wanted}: {state.status('door')}")


def test_a_frozen_camera_is_stalled_then_reconnecting_since_its_last_picture(
    tmp_path: Path,
    tiny_models: Path,
    rtsp_server: Callable[..., RtspServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker process
    server = rtsp_server({"/cam1": SMALL})
    site = SiteConfig.model_validate(
        {
            "cameras": [{"id": "door", "url": server.url("/cam1"), "record": {"mode": "off"}}],
            "detector": {"input_size": [416, 320]},
            "storage": {"directory": str(tmp_path / "data")},
        }
    )
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    state = ServiceState.from_site(site, EventStore(database))
    inbox: queue.Queue[WorkerMessage] = queue.Queue()
    pool = WorkerPool(lambda: site, lambda: None, inbox)
    pool.start("door")
    try:
        online = wait_status(pool, inbox, state, "online")
        assert state.reason("door") is None and online.since is not None

        server.pause()
        frozen = time.time()
        stalled = wait_status(pool, inbox, state, "stalled")
        assert stalled.last_frame_at is not None and abs(stalled.last_frame_at - frozen) < 1.0
        assert stalled.since == stalled.last_frame_at  # down since the pictures stopped
        assert re.fullmatch(r"no frames for [3-5] s", state.reason("door") or ""), stalled

        # The source gives up on the silent connection (read timeout 5 s) and retries.
        lost = wait_status(pool, inbox, state, "reconnecting")
        # Down since its last picture, whatever the state (a late one may still have come:
        # a frame the decoder held back).
        assert lost.since == lost.last_frame_at and lost.since < frozen + 6
        reason = state.reason("door") or ""
        silent = re.match(r"no frames for (\d+) s · ", reason)
        assert silent and int(silent.group(1)) >= 5, reason
        assert reason.endswith(f"{server.url('/cam1')}: no data for 5 s (stalled or unreachable)")

        server.resume()
        back = wait_status(pool, inbox, state, "online")
        assert state.reason("door") is None and back.since is not None and back.since > frozen
    finally:
        pool.stop_all()
        database.close()
