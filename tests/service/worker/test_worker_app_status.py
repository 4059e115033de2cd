"""The worker reports an app that keeps raising as ``failing`` with the boundary's counts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from api.routes.test_config_routes import walker_site
from vigil.service.worker.camera import CameraWorker, WorkerSpec
from vigil.sources.frame import Frame


def test_worker_status_carries_a_failing_builtin_and_its_errors(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    worker = CameraWorker(
        WorkerSpec("cam", walker_site(tmp_path), None, threading.Event()), [].append
    )
    engine, _ = worker._build((416, 320))
    crossings = engine.apps[0]

    def broken(*_: Any) -> list:
        raise KeyError("middle")

    monkeypatch.setattr(crossings.app, "process", broken)  # the real app, made to raise
    for i, image in enumerate(list(walker_clip.images())[:3]):
        engine.process(Frame("cam", i, i / walker_clip.fps, image, wall_time=1000.0 + i))
    worker._refresh_apps(engine)

    reports = {a.name: a for a in worker.status.apps}
    failing = reports["crossings"]
    assert failing.state == "failing" and failing.errors == 1, failing  # skipped after one
    assert 0 < failing.backoff_s <= 1.0
    assert failing.last_error == "process() raised KeyError: 'middle'"
    assert (reports["count"].state, reports["count"].errors) == ("running", 0)
    assert reports["count"].memory_cgroup is None  # a built-in: no sandbox of its own
