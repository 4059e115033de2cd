"""A camera worker under a privacy policy, on the real clip with the real model: live JPEGs
and raw frames leave it with people masked (Laplacian variance inside each tracked person
<= 0.3x the unmasked frame's), an unmasked live JPEG is made only while someone entitled to
it watches (asked for by the pool, remembered across a worker restart), and event snapshots
are written unmasked with their boxes beside them and the event object's box in the event."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import queue
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig
from vigil.privacy.masking import snapshot_boxes_path, snapshot_crop_path
from vigil.service.messages import (
    EventMessage,
    FrameMetadata,
    LiveDemand,
    LiveFrame,
    RawFrame,
    WorkerMessage,
)
from vigil.service.pool import WorkerPool
from vigil.service.worker.camera import CameraWorker, WorkerSpec


def sharpness(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian inside `box`, less what the live view's overlays (drawn over
    the masks: 2 px box outlines, with their JPEG ringing, and the labels above the boxes of
    people beside it) may cover: 8 px along its sides and bottom, a label's height at its top."""
    x1, y1, x2, y2 = np.rint(box).astype(int) + [8, 24, -8, -8]
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def run_worker(tmp_path: Path, clip: Path, demands: list[tuple[float, LiveDemand]]) -> list:
    """Run the worker on `clip` with people pixelated for viewers, sending each demand at
    its time (s after the first analysed frame); the messages it sent."""
    site = load_config_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: square
                url: {clip}
                detect_fps: 4
                record: {{mode: "off"}}
                zones:
                  everywhere: {{points: [[0, 0], [1, 0], [1, 1], [0, 1]]}}
                apps:
                  - {{type: intrusion, settings: {{zone: everywhere}}}}
                privacy: {{mask: [person], for: [viewer], mode: pixelate, margin: 0.1}}
            storage: {{directory: {tmp_path / "data"}}}
            """
        ),
        "site.yaml",
        model=SiteConfig,
    )
    receive, send = multiprocessing.Pipe(duplex=False)
    messages: list[object] = []
    stop = threading.Event()
    worker = CameraWorker(WorkerSpec("square", site, None, stop, control=receive), messages.append)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while not any(isinstance(m, FrameMetadata) for m in messages):
            assert time.monotonic() < deadline, "the worker never analysed a frame"
            time.sleep(0.1)
        start = time.monotonic()
        for at, demand in demands:
            time.sleep(max(0.0, start + at - time.monotonic()))
            send.send(demand)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    return messages


@pytest.fixture(scope="module")
def worker_messages(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, shared_clip: Path
) -> list:
    pytest.MonkeyPatch().setenv("VIGIL_MODELS", str(shared_model.parent))
    demands = [
        (0.0, LiveDemand("square", True)),  # a viewer: masked only
        (4.0, LiveDemand("square", True, unmasked=True)),  # an entitled user joins
        (8.0, LiveDemand("square", True)),  # ... and leaves
        (11.0, LiveDemand("square", True)),
    ]
    return run_worker(tmp_path_factory.mktemp("worker"), shared_clip, demands)


def clear_of_overlays(boxes: list[tuple[float, float, float, float]]) -> list:
    """The boxes big enough to measure whose inside no other box's outline or label
    (drawn over the masks) crosses."""
    clear = []
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if x2 - x1 < 26 or y2 - y1 < 50:
            continue  # too few pixels to measure inside the overlays
        crossed = any(
            ox1 - 4 < x2 and x1 < ox2 + 4 and oy1 - 24 < y2 and y1 < oy2 + 4
            for j, (ox1, oy1, ox2, oy2) in enumerate(boxes)
            if j != i
        )
        if not crossed:
            clear.append((x1, y1, x2, y2))
    return clear


def people_at(messages: list, wall_time: float) -> list[tuple[float, float, float, float]]:
    """The tracked people of the analysed frame at `wall_time`."""
    (metadata,) = [m for m in messages if isinstance(m, FrameMetadata) and m.wall_time == wall_time]
    return [o.box for o in metadata.objects if o.class_name == "person"]


def test_live_is_masked_and_unmasked_only_while_an_entitled_viewer_watches(
    worker_messages: list,
) -> None:
    live = [m for m in worker_messages if isinstance(m, LiveFrame)]
    assert len(live) >= 8
    both = [f for f in live if f.unmasked is not None]
    # Unmasked JPEGs only during the entitled viewer's 4 s (at 4 fps: ~16, a loaded machine
    # fewer), never before nor after.
    assert 3 <= len(both) < len(live)
    assert live[0].unmasked is None and live[-1].unmasked is None
    checked = 0
    for frame in both:
        masked, plain = decode(frame.jpeg), decode(frame.unmasked or b"")
        for box in clear_of_overlays(people_at(worker_messages, frame.wall_time)):
            assert sharpness(masked, box) <= 0.3 * sharpness(plain, box), box
            checked += 1
        assert frame.for_view(mask_objects=True) == frame.jpeg
        assert frame.for_view(mask_objects=False) == frame.unmasked
    assert checked >= 5


def test_raw_frames_are_masked(worker_messages: list, shared_clip: Path) -> None:
    raw = [m for m in worker_messages if isinstance(m, RawFrame)]
    assert raw
    image = decode(raw[0].jpeg)
    people = people_at(worker_messages, raw[0].wall_time)
    assert len(people) >= 3
    # The clip's first frames are the ones analysed first: the raw frame's source picture.
    capture = cv2.VideoCapture(str(shared_clip))
    originals = [capture.read()[1] for _ in range(3)]
    capture.release()
    for box in clear_of_overlays(people):
        before = max(sharpness(o, box) for o in originals)
        assert sharpness(image, box) <= 0.3 * before, box


def test_snapshots_stay_unmasked_with_their_boxes_and_the_events_box(worker_messages: list) -> None:
    started = [
        m for m in worker_messages if isinstance(m, EventMessage) and m.event.state == "start"
    ]
    assert started
    for message in started:
        assert message.snapshot is not None
        snapshot = Path(message.snapshot)
        record = json.loads(snapshot_boxes_path(snapshot).read_text())
        box = message.event.attributes["box"]
        assert record["box"] == box and len(box) == 4 and box[2] > box[0] and box[3] > box[1]
        assert message.event.track_id in record["track_ids"]
        assert len(record["boxes"]) == len(record["classes"]) == len(record["track_ids"])
        assert "person" in record["classes"]
        # The record on disk is unmasked: the person is as sharp as anything in the picture.
        image = cv2.imread(str(snapshot))
        assert sharpness(image, box) > 50
        # beside it, the object's crop with a margin: that region of the snapshot
        x1, y1, x2, y2 = record["crop"]
        assert record["frame"] == [image.shape[1], image.shape[0]]
        assert x1 <= box[0] and y1 <= box[1] and x2 >= box[2] and y2 >= box[3]
        crop = cv2.imread(str(snapshot_crop_path(snapshot)))
        assert crop.shape == (y2 - y1, x2 - x1, 3)
        assert np.abs(crop.astype(int) - image[y1:y2, x1:x2]).mean() < 8  # both JPEGs


def test_the_pool_asks_for_unmasked_frames_and_remembers_it_across_a_restart(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker process
    site = walker_clip.site(
        tmp_path / "data",
        detect_fps=8,
        record="off",
        extra="privacy: {mask: [person], for: [viewer]}",
    )
    inbox: queue.Queue[WorkerMessage] = queue.Queue()
    pool = WorkerPool(lambda: site, lambda: None, inbox)
    pool.set_live_demand("door", True)  # before the start: remembered
    pool.start("door")
    try:
        frames = live_frames(inbox, pool, 3)
        assert all(f.unmasked is None for f in frames)  # a viewer only: masked only

        pool.set_live_demand("door", True, unmasked=True)
        live_frames(inbox, pool, 2)  # encoded before the worker read the demand
        assert all(f.unmasked is not None for f in live_frames(inbox, pool, 3))

        old = pool.workers["door"].process
        assert old is not None
        old.kill()
        old.join(5)
        restarted = live_frames(inbox, pool, 3)
        assert pool.workers["door"].process not in (None, old)
        assert all(f.unmasked is not None for f in restarted)
    finally:
        pool.stop_all()


def live_frames(inbox: queue.Queue[WorkerMessage], pool: WorkerPool, count: int) -> list:
    """The next `count` live frames the pool's worker sends (the pool watched meanwhile)."""
    frames: list[LiveFrame] = []
    deadline = time.monotonic() + 60
    while len(frames) < count:
        assert time.monotonic() < deadline, "no live frames"
        pool.watch()
        with contextlib.suppress(queue.Empty):
            message = inbox.get(timeout=0.2)
            if isinstance(message, LiveFrame):
                frames.append(message)
    return frames
