"""A built-in app that keeps raising is visibly ``failing`` while the boundary skips it."""

from __future__ import annotations

from pydantic import BaseModel

from vigil.apps import App, FrameContext, Scene
from vigil.apps.boundary import BACKOFF_INITIAL_S, GuardedApp
from vigil.detection.detections import Detections
from vigil.events.event import Event


class _Settings(BaseModel):
    pass


class Flaky(App):
    """Raises while `broken`; otherwise emits nothing."""

    kind = "flaky"
    Settings = _Settings
    broken = True

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        if self.broken:
            raise KeyError("zone")
        return []


def test_raising_app_is_failing_during_backoff_then_running(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("vigil.apps.boundary.time.monotonic", lambda: clock[0])
    app = Flaky("door", _Settings(), Scene(100, 100))
    guarded = GuardedApp(app)
    ctx = FrameContext("cam", 0, 0.0, 100, 100)
    assert guarded.status()["state"] == "running"

    assert guarded.process(ctx, Detections.empty()) == []
    report = guarded.status()
    assert report["state"] == "failing"
    assert report["errors"] == 1 and report["backoff_s"] == BACKOFF_INITIAL_S
    assert report["last_error"] == "process() raised KeyError: 'zone'"

    clock[0] += BACKOFF_INITIAL_S  # backoff over: it runs again, and succeeds
    app.broken = False
    guarded.process(ctx, Detections.empty())
    report = guarded.status()
    assert report["state"] == "running" and report["backoff_s"] == 0.0
    assert report["errors"] == 1  # the count stays: the operator sees it failed before
