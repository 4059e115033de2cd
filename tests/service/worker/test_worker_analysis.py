"""A camera worker (in this process, its detector in-process too) on a real HTTP/MJPEG camera
(tests/mjpeg_server.py): every frame due for analysis is analysed, from the very first one
(the engine is built when the stream opens, and the mailbox holds the frames that arrive
while it is built), on the wall clock."""

from __future__ import annotations

import statistics
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mjpeg_server import MjpegServer
from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig
from vigil.service.messages import CameraStatus, FrameMetadata
from vigil.service.worker.camera import CameraWorker, WorkerSpec


def test_every_due_frame_is_analysed_from_the_first(
    tmp_path: Path, tiny_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    camera = MjpegServer(width=416, height=320, fps=15).start()
    site = load_config_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: door
                url: {camera.url}
                detect_fps: 5
                record: {{mode: "off"}}
            detector: {{input_size: [416, 320]}}
            storage: {{directory: {tmp_path / "data"}}}
            """
        ),
        "site.yaml",
        model=SiteConfig,
    )
    messages: list[object] = []
    stop = threading.Event()
    worker = CameraWorker(WorkerSpec("door", site, None, stop), messages.append)
    thread = threading.Thread(target=worker.run)
    started = time.time()
    thread.start()
    try:
        time.sleep(4.0)
    finally:
        stop.set()
        thread.join(10)
        camera.stop()
    assert not thread.is_alive()
    frames = [m for m in messages if isinstance(m, FrameMetadata)]
    statuses = [m for m in messages if isinstance(m, CameraStatus)]
    # 15 fps in, 5 analysed per second, for ~4 s (less the connection).
    assert 14 <= len(frames) <= 24, len(frames)
    assert frames[0].frame_index == 0  # the first frame was not lost to the engine's build
    steps = [b.frame_index - a.frame_index for a, b in zip(frames, frames[1:])]
    # Every 3rd frame: the spacing follows arrival times, so a late burst from the camera
    # (a loaded machine) may stretch one step, but never the rhythm.
    assert statistics.median(steps) == 3 and all(1 <= step <= 6 for step in steps), steps
    assert all(started < f.wall_time < time.time() for f in frames)
    assert statuses[-1].frames_dropped == 0
    assert statuses[-1].frames_processed == len(frames)
