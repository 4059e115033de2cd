"""SandboxedApp with well-behaved apps: events, counters, settings, scene, pixels, finish."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sandbox_support import FPS, Installer, context, objects, sandboxed


def drive(app, frames: int, *, rate: float = FPS, image=None) -> tuple[list, list[float]]:
    """Feed `frames` frames at `rate`; (events, seconds each process() call took)."""
    events, calls = [], []
    for i in range(frames):
        ctx = context(i)
        if image is not None:
            ctx = type(ctx)(ctx.source_id, i, ctx.pts, ctx.width, ctx.height, image(i))
        t0 = time.perf_counter()
        events += app.process(ctx, objects(i))
        calls.append(time.perf_counter() - t0)
        time.sleep(max(0.0, 1 / rate - calls[-1]))
    return events, calls


def test_events_come_back_in_order_with_counters(install: Installer) -> None:
    app = sandboxed(install("apps/ticker.py", "Ticker", events=("tick", "done")), {"zone": "left"})
    try:
        assert app.status()["state"] == "stopped"  # nothing starts before the first frame
        events, calls = drive(app, 30)
        events += app.finish(context(29))
        ticks = [e for e in events if e.type == "tick"]
        assert [e.attributes["frame"] for e in ticks] == list(range(30))
        for e in ticks:
            o = objects(e.attributes["frame"])
            assert e.attributes["objects"] == 50
            assert e.attributes["track_sum"] == int(o.tracker_id.sum())
            assert e.attributes["inside"] == int((o.anchors[:, 0] < 320).sum())
            assert e.app == "ticker" and e.source == "cam"
        assert events[-1].type == "done" and events[-1].attributes == {"frames": 30}
        assert app.counters() == {"frames": 30.0}
        status = app.status()
        assert status["state"] == "running" and status["restarts"] == 0
        assert status["last_error"] is None
        assert max(calls) < 0.05
    finally:
        app.close()
    assert app.status()["state"] == "stopped"


def test_bad_settings_fail_once_with_one_line(install: Installer) -> None:
    app = sandboxed(install("apps/ticker.py", "Ticker", events=("tick",)), {"zone": "nowhere"})
    try:
        deadline = time.monotonic() + 20
        while app.status()["state"] != "failed" and time.monotonic() < deadline:
            app.process(context(0), objects(0))
            time.sleep(0.05)
        status = app.status()
        assert status["state"] == "failed"
        assert "unknown zone 'nowhere'" in status["last_error"]
        assert "\n" not in status["last_error"]
        assert status["restarts"] == 0
    finally:
        app.close()


def test_pixels_reach_a_pixel_app(install: Installer) -> None:
    installed = install("apps/brightness.py", "Brightness", events=("brightness",), data="pixels")
    app = sandboxed(installed)
    assert app.needs_pixels
    try:
        events, _ = drive(app, 40, image=lambda i: np.full((480, 640, 3), i * 5, np.uint8))
        events += app.finish(context(39))
        means = {e.attributes["frame"]: e.attributes["mean"] for e in events}
        assert means and all(means[i] == pytest.approx(i * 5) for i in means)
        # while the sandbox starts, frames beyond its pixel slots are skipped; then none
        assert set(range(max(means) - 15, 40)) <= set(means)
    finally:
        app.close()


def test_tracks_app_never_sees_pixels(install: Installer) -> None:
    installed = install("apps/brightness.py", "Brightness", events=("brightness",))
    app = sandboxed(installed)
    assert not app.needs_pixels
    try:
        events, _ = drive(app, 5, image=lambda i: np.full((480, 640, 3), 99, np.uint8))
        events += app.finish(context(4))
        assert events == []
    finally:
        app.close()
