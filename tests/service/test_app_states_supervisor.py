"""The single box keeps line totals across a restart of the whole service: the supervisor, as
the single writer, stores the workers' `AppStates` in the database (the last one when the
workers stop), and the next run's workers start their apps from them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from counting_site import counting_site
from vigil.config.site import SiteConfig
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database
from vigil.service.hub import Subscription
from vigil.service.messages import AppStates, CameraStatus
from vigil.service.supervisor import Supervisor


def crossings(states: dict[str, Any]) -> float:
    return sum(states["crossings"]["state"]["counts"].values())


def next_message(sub: Subscription, done: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = sub.get(timeout=0.5)
        if message is not None and done(message):
            return message
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    """A headless supervisor of `site` in a thread, until `stop()`."""

    def __init__(self, site: SiteConfig):
        self.supervisor = Supervisor(site)
        self.messages = self.supervisor.hub.subscribe((CameraStatus, AppStates))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.supervisor.run, args=(self._stop.is_set,))
        self._thread.start()

    def stop(self) -> list[Any]:
        """Stop it; what it published meanwhile and had not been read."""
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        rest = []
        while (message := self.messages.get(timeout=0)) is not None:
            rest.append(message)
        return rest


def test_line_totals_survive_a_restart_of_the_service(
    tmp_path: Path, tiny_models: Path, walker_clip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))  # inherited by the worker processes
    monkeypatch.setenv("HOME", str(tmp_path))  # no store apps
    site = counting_site(walker_clip.path, tmp_path / "data")
    first = Running(site)
    try:
        next_message(
            first.messages,
            lambda m: isinstance(m, AppStates) and crossings(m.states) >= 2,
            "2 crossings saved",
        )
    finally:
        rest = first.stop()
    # The worker's last states, sent as it stopped, are what the database holds.
    last = [m for m in rest if isinstance(m, AppStates)]
    with Database(site.storage.database_url()) as database:
        stored = AppStateStore(database).load("door")
    stored_total = crossings(stored)
    assert stored_total >= 2
    if last:
        assert stored == last[-1].states

    second = Running(site)
    try:
        status = next_message(
            second.messages,
            lambda m: isinstance(m, CameraStatus) and m.counters.get("crossings"),
            "the restarted service's line totals",
        )
        assert sum(status.counters["crossings"].values()) >= stored_total
    finally:
        second.stop()
