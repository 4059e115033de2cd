"""`vigil demo` for several loops of the sample clip: what `/api/ws` reports stays real.

The field defect this pins: after minutes of the demo, tracks that had coasted off the
picture were never looked for again and piled up, so the WebSocket reported up to 17
persons (at most ~8 are in view) and thousands of boxes centred outside the frame. Here the
real service runs the real model on the real clip, looped like the demo's camera, at the
demo's own pace (the clip plays in real time: three loops take four minutes).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from service.test_serve_e2e import (
    WebSocket,
    admin_client,
    printed_url,
    start_service,
    stop_process,
    wait_for,
)
from vigil.service.demo import camera_clip
from vigil.sources.video import VideoSource

pytestmark = pytest.mark.integration

LOOPS = 3
MOST_PERSONS = 12  # at most ~8 people are ever in view of the clip


def test_a_long_demo_run_reports_only_objects_in_the_picture(
    tmp_path: Path, shared_model: Path, shared_clip: Path
):
    data = tmp_path / "demo"
    # Transcoded here, beforehand: the demo finds the camera's clip ready and starts at once.
    clip = camera_clip(shared_clip, data)
    source = VideoSource(clip)
    frames_per_loop, fps = source.frame_count, source.fps
    assert frames_per_loop and fps
    process, stdout, log = start_service(
        ["demo", str(shared_clip), "--port", "0", "--data", str(data)],
        tmp_path,
        shared_model.parent,
    )
    try:
        url = printed_url(process, stdout, log)
        http = admin_client(data)
        token = {"Authorization": http.headers["Authorization"]}
        ws = wait_for(lambda: WebSocket(url, "/api/ws?camera=campus", headers=token), 10, "ws")
        assert ws.accepted, ws.status_line
        persons: list[int] = []
        boxes: list[np.ndarray] = []
        first = last = None
        # Real time, with room for a busy machine (the clip then plays late, not faster).
        deadline = time.monotonic() + 120 + 2 * LOOPS * frames_per_loop / fps
        try:
            while last is None or last - first < LOOPS * frames_per_loop:
                assert time.monotonic() < deadline, f"{len(persons)} frames\n{log.tail()}"
                message = ws.receive()
                if message["kind"] != "objects":
                    continue
                assert (message["width"], message["height"]) == (source.width, source.height)
                first = message["frame_index"] if first is None else first
                last = message["frame_index"]
                objects = message["objects"]
                persons.append(sum(o["class_name"] == "person" for o in objects))
                boxes.append(np.array([o["box"] for o in objects], np.float64).reshape(-1, 4))
        finally:
            ws.close()
    finally:
        stop_process(process)

    # The camera was analysed all along, at up to its detect_fps (5) of the clip's time.
    assert len(persons) > 0.5 * 5 * LOOPS * frames_per_loop / fps, len(persons)
    assert max(persons) <= MOST_PERSONS, sorted(persons)[-20:]
    every = np.concatenate(boxes)
    assert np.isfinite(every).all()
    assert (every[:, 2:] >= every[:, :2]).all(), every[(every[:, 2:] < every[:, :2]).any(axis=1)]
    centres = (every[:, :2] + every[:, 2:]) / 2
    off = ((centres < 0) | (centres > [source.width, source.height])).any(axis=1)
    assert not off.any(), f"{off.sum()} of {len(every)} boxes centred off the frame"
