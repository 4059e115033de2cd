"""Misbehaving apps are stopped, restarted and reported, while a well-behaved sandboxed app
and a built-in in-process app driven in the same loop get every frame at full rate."""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from sandbox_support import FAST, FPS, Installer, context, objects, sandboxed, scene

from vigil.apps import build_app
from vigil.sandbox import SandboxLimits


@dataclass
class Case:
    module: str
    cls: str
    error: str  # expected in status()["last_error"]
    frames: int = 45
    events: tuple[str, ...] = ()
    limits: SandboxLimits = FAST
    settings: dict[str, Any] = field(default_factory=dict)


CASES = {
    "sleeps forever": Case("hostile/sleeper.py", "Sleeper", "hung: no answer within 0.5 s"),
    "allocates without bound": Case(
        "hostile/hog.py",
        "Hog",
        "memory limit of 320 MiB reached",
        limits=dataclasses.replace(FAST, memory_mb=320, frame_deadline_s=5.0),
    ),
    # over 20% of a core for 2 s (a low share: a loaded machine gives a niced hog little)
    "burns CPU": Case(
        "hostile/spinner.py",
        "Spinner",
        "cpu limit: used",
        limits=dataclasses.replace(FAST, cpu_percent=20, cpu_window_s=2, frame_deadline_s=60),
    ),
    # the kernel's backstop on the total CPU time of one sandbox process, SIGXCPU ignored
    "burns CPU up to the backstop": Case(
        "hostile/spinner.py",
        "Spinner",
        "CPU time backstop of 1 s reached",
        limits=dataclasses.replace(FAST, cpu_seconds=1, cpu_percent=400, frame_deadline_s=60),
    ),
    "raises on every frame": Case(
        "hostile/raiser.py", "Raiser", "raised on 3 frames in a row: RuntimeError: broken on"
    ),
    "floods events": Case(
        "hostile/flooder.py", "Flooder", "flooded: over 100 events/s", events=("spam",)
    ),
    "forges replies": Case(
        "hostile/forger.py", "Forger", "protocol violation: answer to frame", events=("tick",)
    ),
}


def stopped_yet(app) -> bool:
    status = app.status()
    return status["restarts"] > 0 or status["state"] != "running"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_app_is_stopped_and_others_keep_full_rate(
    case: Case, install: Installer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vigil.sandbox")
    hostile = sandboxed(
        install(case.module, case.cls, events=case.events), case.settings, case.limits
    )
    good = sandboxed(
        install("apps/ticker.py", "Ticker", events=("tick", "done"), app_id="good"),
        {"zone": "left"},
    )
    builtin = build_app("occupancy", "occupancy", {"zone": "left", "classes": []}, scene())
    calls: dict[str, list[float]] = {"hostile": [], "good": [], "builtin": []}
    events: dict[str, list] = {"hostile": [], "good": [], "builtin": []}
    apps = {"hostile": hostile, "good": good, "builtin": builtin}
    start = time.monotonic()
    frames = 0
    try:
        # at least `case.frames` frames, and on until the hostile app was stopped (a loaded
        # machine gives a CPU hog its CPU seconds slowly), for 20 s at most
        while frames < case.frames or (stopped_yet(hostile) is False and frames < 300):
            ctx, objs = context(frames), objects(frames)
            for key, app in apps.items():
                t0 = time.perf_counter()
                events[key] += app.process(ctx, objs)
                calls[key].append(time.perf_counter() - t0)
            frames += 1
            time.sleep(max(0.0, start + frames / FPS - time.monotonic()))
        elapsed = time.monotonic() - start
        events["good"] += good.finish(context(frames - 1))
        status, good_status = hostile.status(), good.status()
    finally:
        hostile.close()
        good.close()

    # the hostile app was stopped, restarted (or failed for good), and said why in one line
    assert status["state"] in ("restarting", "running", "failed"), status
    assert status["restarts"] >= 1 or status["state"] in ("restarting", "failed"), status
    assert case.error in status["last_error"], status
    lines = [r.getMessage() for r in caplog.records if "'" + hostile.name + "'" in r.getMessage()]
    assert lines and all("\n" not in line for line in lines)
    assert any(case.error in line for line in lines), lines

    # nothing else noticed: every frame, in order, at the loop's full rate
    assert elapsed < frames / FPS + 1.0
    ticks = [e.attributes["frame"] for e in events["good"] if e.type == "tick"]
    assert ticks == list(range(frames))
    assert good_status["state"] == "running" and good_status["restarts"] == 0
    assert good_status["last_error"] is None
    assert len(calls["builtin"]) == frames
    for key in ("hostile", "good"):  # never waits for the sandbox (a hang is 500 ms here)
        assert statistics.median(calls[key]) < 0.002, (key, calls[key])
        assert np.percentile(calls[key], 95) < 0.005, (key, sorted(calls[key])[-10:])
        assert max(calls[key]) < 0.25, (key, max(calls[key]))  # a GC pass, a busy machine
    if case.events == ("spam",):  # the flood was rate limited before it was stopped
        assert len(events["hostile"]) <= case.limits.max_events_per_s * (elapsed + 1)
