"""A camera worker (in this process, its detector in-process too) on a real H.264 camera
stream with B-frames (a local file played in real time): only what analysis needs is
decoded. The B-frames nothing references are never decoded (detection at 5 fps needs only the
7.5 reference frames a second of a 15 fps I-B-P-B stream), every frame due is still analysed,
and recording still gets every packet."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import av
import pytest

from rtsp.harness import write_clip
from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig
from vigil.recording.segments import SegmentInfo
from vigil.service.messages import CameraStatus, FrameMetadata
from vigil.service.worker.camera import CameraWorker, WorkerSpec


@pytest.mark.parametrize(("bframes", "decoded_fps"), [(1, 7.5), (0, 15.0)])
def test_worker_decodes_only_the_frames_analysis_can_use(
    tmp_path: Path,
    tiny_models: Path,
    monkeypatch: pytest.MonkeyPatch,
    bframes: int,
    decoded_fps: float,
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    clip = write_clip(tmp_path / "cam.mp4", 416, 320, 15, 4.0, gop=30, bframes=bframes)
    site = load_config_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: door
                url: {clip}
                detect_fps: 5
                record: {{mode: continuous, segment_seconds: 2}}
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
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while thread.is_alive() and time.monotonic() < deadline:  # the file ends after 4 s
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    frames = [m for m in messages if isinstance(m, FrameMetadata)]
    status = [m for m in messages if isinstance(m, CameraStatus)][-1]
    # 4 s of stream: the pictures decoded, and 5 a second of them analysed, none dropped
    assert status.frames_in == pytest.approx(4 * decoded_fps, abs=2)  # + the last P-frame(s)
    assert 18 <= len(frames) <= 21, len(frames)
    assert status.frames_processed == len(frames) and status.frames_dropped == 0
    walls = [f.wall_time for f in frames]
    assert max(b - a for a, b in zip(walls, walls[1:])) <= 4 / 15 + 1e-3  # a steady 5 fps
    # recording remuxes every packet, decoded or not: all 60 frames are in the segments
    segments = [m for m in messages if isinstance(m, SegmentInfo)]
    recorded = 0
    for segment in segments:
        with av.open(segment.path) as container:
            recorded += sum(1 for _ in container.decode(video=0))
    assert recorded == 60, segments
