"""App state across a restart (`App.restorable`, `snapshot`/`restore`, SDK 1.2): the built-in
apps that restore carry their totals into a new instance through the boundary
(`GuardedApp.saved_state` / `restore_saved`); a saved state of another app, another state
version or a broken one is refused with one log line and the app starts afresh."""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

import pytest
from test_registry import MINIMAL

from vigil.apps import MAX_STATE_BYTES, App, AppSettings, FrameContext
from vigil.apps.boundary import GuardedApp
from vigil.apps.registry import BUILTIN_APPS
from vigil.detection.detections import Detections
from vigil.events.event import Event

PERSON, CAR = 0, 2  # class ids of the test scene (tests/apps/conftest.py)
DOWN = list(range(400, 601, 20))  # crosses the test scene's line "door" (y = 500)
UP = DOWN[::-1]
RESTORABLE = {"line_crossing", "occupancy"}
# The least settings each other built-in needs on the test scene.


def guarded_sim(sim, kind: str, settings: dict[str, Any]) -> tuple[Any, GuardedApp]:
    s = sim(kind, settings)
    s.app = GuardedApp(s.app)
    return s, s.app


def crossed(sim, settings: dict[str, Any] | None = None) -> GuardedApp:
    """A line_crossing app that counted one person in and out and one car in."""
    s, app = guarded_sim(sim, "line_crossing", {"line": "door", "classes": [], **(settings or {})})
    for y_person, y_car in zip(DOWN + UP, DOWN + [DOWN[-1]] * len(UP), strict=True):
        s.step([(1, PERSON, 300, y_person), (2, CAR, 700, y_car)])
    assert app.counters() == {"person in": 1.0, "person out": 1.0, "car in": 1.0}
    return app


def test_only_line_crossing_and_occupancy_restore():
    assert {kind for kind, cls in BUILTIN_APPS.items() if cls.restorable} == RESTORABLE


@pytest.mark.parametrize("kind", sorted(set(BUILTIN_APPS) - RESTORABLE))
def test_other_built_ins_save_nothing(sim, caplog, kind):
    s, app = guarded_sim(sim, kind, MINIMAL[kind])
    s.run([[(1, PERSON, 400, 400), (2, CAR, 450, 450)]] * 5)
    assert app.saved_state() is None
    # A state saved for it (by a later version that restores) is refused in one line.
    assert not app.restore_saved({"kind": kind, "version": 1, "state": {}})
    assert "the app no longer restores its state" in caplog.text


def test_line_crossing_totals_go_on_in_a_new_instance(sim):
    saved = crossed(sim).saved_state()
    assert saved == {
        "kind": "line_crossing",
        "version": 1,
        "state": {"counts": {"person in": 1.0, "person out": 1.0, "car in": 1.0}},
    }
    saved = json.loads(json.dumps(saved))  # as the database gives it back
    s, fresh = guarded_sim(sim, "line_crossing", {"line": "door", "classes": []})
    assert fresh.restore_saved(saved)
    s.run([[(7, PERSON, 300, y)] for y in DOWN])  # a new track id after the restart
    assert fresh.counters() == {"person in": 2.0, "person out": 1.0, "car in": 1.0}


def test_line_crossing_drops_totals_of_classes_it_no_longer_watches(sim):
    saved = crossed(sim).saved_state()
    _, people_only = guarded_sim(sim, "line_crossing", {"line": "door"})
    assert people_only.restore_saved(saved)
    assert people_only.counters() == {"person in": 1.0, "person out": 1.0}


def test_occupancy_current_and_peak_go_on(sim):
    s, app = guarded_sim(sim, "occupancy", {"zone": "square"})
    for people in (3, 3, 3, 3, 1, 1, 1, 1):
        s.step([(i, PERSON, 400, 400) for i in range(people)])
    assert app.counters() == {"current": 1.0, "max": 3.0}
    saved = app.saved_state()
    assert saved == {"kind": "occupancy", "version": 1, "state": {"current": 1, "max": 3}}
    s2, restored = guarded_sim(sim, "occupancy", {"zone": "square"})
    assert restored.restore_saved(json.loads(json.dumps(saved)))
    assert restored.counters() == {"current": 1.0, "max": 3.0}  # before its first frame
    s2.run([[(9, PERSON, 400, 400)]] * 5)
    assert restored.counters() == {"current": 1.0, "max": 3.0}


@pytest.mark.parametrize(
    ("saved", "problem"),
    [
        ({"kind": "occupancy", "version": 1, "state": {"current": 1, "max": 3}}, "app type"),
        ({"kind": "line_crossing", "version": 0, "state": {"counts": {}}}, "state version 0"),
        ({"kind": "line_crossing", "version": 1, "state": {"counts": {"person in": -2}}}, "raised"),
        ({"kind": "line_crossing", "version": 1, "state": {"totals": {}}}, "raised"),
        ({"kind": "line_crossing", "version": 1, "state": {"counts": {"x": 1}}}, "raised"),
        ({"kind": "line_crossing", "version": 1, "state": {"counts": {"a in": "NaN"}}}, "raised"),
        ({"kind": "line_crossing", "version": 1, "state": [1, 2]}, "not a saved state"),
        ("garbage", "not a saved state"),
        (None, "not a saved state"),
    ],
)
def test_a_bad_or_old_saved_state_is_ignored_with_one_log_line(sim, caplog, saved, problem):
    s, app = guarded_sim(sim, "line_crossing", {"line": "door"})
    with caplog.at_level(logging.INFO):
        assert not app.restore_saved(saved)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "\n" not in record.getMessage()
    assert "'app': saved state not restored, starting afresh" in record.getMessage()
    assert problem in record.getMessage()
    s.run([[(1, PERSON, 300, y)] for y in DOWN])
    assert app.counters() == {"person in": 1.0, "person out": 0.0}


class _Settings(AppSettings):
    pass


class Halfway(App):
    """A third-party app whose `restore` assigns part of the state before it raises, and
    whose snapshots may be anything."""

    kind: ClassVar[str] = "halfway"
    Settings = _Settings
    restorable: ClassVar[bool] = True

    def __init__(self, name: str, settings: AppSettings, scene: Any):
        super().__init__(name, settings, scene)
        self.seen = 0
        self.label = "new"
        self.state: Any = None

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        self.seen += 1
        return []

    def snapshot(self) -> Any:
        return self.state if self.state is not None else {"seen": self.seen, "label": self.label}

    def restore(self, state: dict[str, Any]) -> None:
        self.seen = int(state["seen"])
        self.label = str(state["label"])  # KeyError after `seen` was assigned


@pytest.fixture
def halfway(scene) -> GuardedApp:
    return GuardedApp(Halfway("h", _Settings(), scene))


def test_a_restore_that_fails_halfway_is_rolled_back(halfway):
    app = halfway
    saved = {"kind": "halfway", "version": 1, "state": {"seen": 41}}
    assert not app.restore_saved(saved)
    assert (app.app.seen, app.app.label) == (0, "new")
    assert app.restore_saved({**saved, "state": {"seen": 41, "label": "old"}})
    assert (app.app.seen, app.app.label) == (41, "old")


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ([1, 2], "not a dict"),
        ({"x": object()}, "TypeError"),
        ({"x": "a" * MAX_STATE_BYTES}, f"more than {MAX_STATE_BYTES}"),
    ],
)
def test_a_snapshot_that_is_not_small_json_is_not_saved(halfway, state, problem):
    app = halfway
    app.app.state = state
    assert app.saved_state() is None
    assert app.rejected == 1 and problem in app.status()["last_error"]


def test_a_snapshot_is_plain_json(halfway):
    app = halfway
    app.app.state = {"nan": float("nan"), "tuple": (1, 2)}
    assert app.saved_state() == {
        "kind": "halfway",
        "version": 1,
        "state": {"nan": None, "tuple": [1, 2]},
    }
