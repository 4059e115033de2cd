"""Line totals survive a restart of the camera's worker: a real worker process (the pool's)
sends its restorable apps' states (`AppStates`) while they change and when it stops; killed
mid-clip or stopped cleanly, the next worker of the camera starts its apps from them, and
counts on from there instead of from zero."""

from __future__ import annotations

import contextlib
import queue
import time
from pathlib import Path
from typing import Any

import pytest

from counting_site import counting_site
from vigil.service.messages import AppStates, CameraStatus, WorkerMessage
from vigil.service.pool import WorkerPool


class Watch:
    """The pool, watched, and every message of its worker, in order."""

    def __init__(self, pool: WorkerPool, inbox: queue.Queue[WorkerMessage]):
        self.pool, self.inbox = pool, inbox
        self.messages: list[Any] = []

    def until(self, done: Any, what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pool.watch()
            with contextlib.suppress(queue.Empty):
                self.messages.append(self.inbox.get(timeout=0.2))
            if (result := done()) is not None:
                return result
        raise AssertionError(f"timed out waiting for {what}")

    def crossings(self, since: int = 0) -> list[float]:
        """The line totals (in + out) of each status since message `since` that has them."""
        return [
            sum(m.counters["crossings"].values())
            for m in self.messages[since:]
            if isinstance(m, CameraStatus) and m.counters.get("crossings")
        ]

    def saved(self, since: int = 0) -> list[dict[str, Any]]:
        return [m.states for m in self.messages[since:] if isinstance(m, AppStates)]

    def restarted(self, old: Any) -> int | None:
        """The index of the first message of the worker that replaced `old`: the pool reads
        all of a worker's messages into the inbox before it starts the next, and the next
        takes a while to say anything."""
        if self.pool.workers["door"].process in (None, old):
            return None
        with contextlib.suppress(queue.Empty):
            while True:
                self.messages.append(self.inbox.get_nowait())
        return len(self.messages)


def saved_total(states: dict[str, Any]) -> float:
    return sum(states["crossings"]["state"]["counts"].values())


def test_a_restarted_worker_keeps_its_line_totals(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker process
    site = counting_site(walker_clip.path, tmp_path / "data", occupancy=True)
    inbox: queue.Queue[WorkerMessage] = queue.Queue()
    # The camera's first worker restores what the database had (here: nothing yet).
    asked: list[str] = []
    pool = WorkerPool(
        lambda: site,
        lambda: None,  # None: the worker's own detector
        inbox,
        restore=lambda camera: asked.append(camera) or {},
        app_states_every_s=1.0,
    )
    watch = Watch(pool, inbox)
    pool.start("door")
    try:
        # Each pass of the looped clip: one walker crosses in, the other out.
        watch.until(
            lambda: next((s for s in watch.saved() if saved_total(s) >= 3), None),
            "3 crossings saved",
        )
        first = watch.saved()[-1]
        assert set(first) == {"crossings", "people"} and first["people"]["state"]["max"] >= 2

        # Killed mid-clip: the next worker starts from the last states it sent.
        old = pool.workers["door"].process
        assert old is not None
        old.kill()
        since = watch.until(lambda: watch.restarted(old), "the worker's restart")
        killed_at = saved_total(watch.saved()[-1])
        assert killed_at >= saved_total(first)
        watch.until(
            lambda: True if max(watch.crossings(since), default=0) >= killed_at + 2 else None,
            "crossings after the restart",
        )
        after_kill = watch.crossings(since)
        assert min(after_kill) >= killed_at, (killed_at, after_kill)  # never back to zero
        assert asked == ["door"]  # the restart took its predecessor's states, not the DB's

        # Stopped cleanly (a changed source): its final states are sent as it stops.
        old = pool.workers["door"].process
        pool.stop("door", removed=False)
        since_stop = len(watch.messages)
        again = watch.until(lambda: watch.restarted(old), "the worker's second restart")
        final = watch.crossings(since_stop)[-1]  # the stopped worker's last status
        stopped_at = saved_total(watch.saved()[-1])
        assert stopped_at == final  # its last word was its last count
        assert stopped_at >= max(after_kill)
        watch.until(lambda: watch.crossings(again) or None, "counters after the restart")
        assert min(watch.crossings(again)) >= stopped_at
        assert watch.saved(again) == [] or saved_total(watch.saved(again)[0]) >= stopped_at
    finally:
        pool.stop_all()


def test_bad_saved_states_are_ignored_in_one_line_each(
    tmp_path: Path,
    tiny_models: Path,
    walker_clip: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Whatever the database holds for a camera's apps, its worker runs: an app whose saved
    state is not its own (garbage, another app's, an older version) starts afresh, and the
    worker's log says so in one line per app."""
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    site = counting_site(walker_clip.path, tmp_path / "data", occupancy=True)
    saved = {
        "crossings": {"kind": "occupancy", "version": 1, "state": {"current": 1, "max": 2}},
        "people": {"kind": "occupancy", "version": 0, "state": {"current": 1, "max": 2}},
        "gone": "garbage",
    }
    inbox: queue.Queue[WorkerMessage] = queue.Queue()
    pool = WorkerPool(lambda: site, lambda: None, inbox, restore=lambda camera: saved)
    watch = Watch(pool, inbox)
    pool.start("door")
    try:
        watch.until(lambda: watch.crossings() or None, "the worker's line totals")
        assert watch.crossings()[0] == 0  # afresh, not from another app's state
    finally:
        pool.stop_all()
    refused = [
        line for line in capfd.readouterr().err.splitlines() if "saved state not restored" in line
    ]
    assert len(refused) == 2, refused  # "gone" names no app of the camera: never offered
    text = "\n".join(refused)
    afresh = "saved state not restored, starting afresh"
    assert f"app 'crossings': {afresh}: saved by app type 'occupancy', not 'line_crossing'" in text
    assert f"app 'people': {afresh}: state version 0, the app's is 1" in text
