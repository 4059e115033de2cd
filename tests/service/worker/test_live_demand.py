"""Live view on demand: a real camera worker process draws and encodes `LiveFrame`s only
while the supervisor says someone watches (`LiveDemand`), and the demand outlives a restart
of the worker. Frame metadata and raw frames flow regardless."""

from __future__ import annotations

import contextlib
import queue
import time
from pathlib import Path
from typing import Any

import pytest

from vigil.service.messages import FrameMetadata, LiveFrame, RawFrame, WorkerMessage
from vigil.service.pool import WorkerPool


def collect(
    inbox: queue.Queue[WorkerMessage], seconds: float, pool: WorkerPool | None = None
) -> list:
    """What the worker said during `seconds` (the pool watched meanwhile, if given)."""
    out: list[object] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if pool is not None:
            pool.watch()
        with contextlib.suppress(queue.Empty):
            out.append(inbox.get(timeout=min(left, 0.2)))
    return out


def kinds(messages: list[Any], kind: type) -> list[Any]:
    return [m for m in messages if isinstance(m, kind)]


def test_live_frames_only_while_wanted(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker process
    site = walker_clip.site(tmp_path / "data", detect_fps=8, record="off")
    inbox: queue.Queue[WorkerMessage] = queue.Queue()
    pool = WorkerPool(lambda: site, lambda: None, inbox)  # None: the worker's own detector
    pool.start("door")
    try:
        # Nobody watches: frames are analysed and published, but no live JPEG is made.
        first = time.monotonic()
        while not kinds(collect(inbox, 0.5), FrameMetadata):
            assert time.monotonic() - first < 60, "the worker never analysed a frame"
        unwatched = collect(inbox, 3.0)
        assert len(kinds(unwatched, FrameMetadata)) >= 5
        assert kinds(unwatched, LiveFrame) == []

        pool.set_live_demand("door", True)
        watched = collect(inbox, 3.0)
        live = kinds(watched, LiveFrame)
        assert len(live) >= 3 and all(
            f.camera == "door" and f.jpeg[:2] == b"\xff\xd8" for f in live
        )

        pool.set_live_demand("door", False)
        collect(inbox, 0.5)  # what was encoded before the worker read the demand
        assert kinds(collect(inbox, 3.0), LiveFrame) == []

        # The demand is remembered: a restarted worker encodes for the viewer at once.
        pool.set_live_demand("door", True)
        old = pool.workers["door"].process
        assert old is not None
        old.kill()
        old.join(5)
        restarted: list[object] = []
        deadline = time.monotonic() + 60
        while not kinds(restarted, LiveFrame) and time.monotonic() < deadline:
            restarted += collect(inbox, 1.0, pool)
        assert pool.workers["door"].process not in (None, old)
        assert kinds(restarted, LiveFrame), "the restarted worker was not told someone watches"
        assert kinds(restarted, RawFrame)  # the zone editor's picture, unchanged
    finally:
        pool.stop_all()
