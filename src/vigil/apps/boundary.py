"""The boundary between the pipeline and an app: what an app hands Vigil, checked.

Every app, built-in or sandboxed, runs behind a `GuardedApp` (the engine wraps them), so
nothing an app does reaches the rest of Vigil unchecked:

* an exception from ``process``/``finish``/``counters`` is the app's alone: counted,
  reported in its status and log (one line), and the app is skipped for a backoff (1 s,
  doubling to 30 s) — the tracker and the other apps never notice;
* every event is stamped with the camera and instance it came from, and must be storable
  (`vigil.events.event.storable_event`: int64 integers, finite times, printable bounded
  names, JSON attributes within a size bound); a rejected event is counted, reported and
  dropped, never written;
* event ids are Vigil's: an app's id (which could be ``../../x`` or ``/abs/path``) is only
  a key into a bounded per-instance map to a fresh `new_event_id`, so that a long-lived
  event keeps one id from ``start`` to ``end``. An ``update``/``end`` of an id that was
  never started (or was forgotten) is rejected;
* counters are finite numbers with printable names, at most `MAX_COUNTERS` names per
  instance over its life (an app inventing a name per frame cannot flood MQTT).
* a restorable app's state (`App.snapshot`) is saved only as JSON of at most
  `MAX_STATE_BYTES`, stamped with the app's ``kind`` and ``state_version``; a saved state is
  restored only into the same kind and version, and one that `App.restore` refuses (or
  that is not a saved state at all) leaves the app as it started, with one log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from vigil.apps.base import MAX_STATE_BYTES, App, FrameContext
from vigil.detection.detections import Detections
from vigil.errors import one_line
from vigil.events.event import Event, json_value, new_event_id, storable_event, text_problem

log = logging.getLogger("vigil.apps")

MAX_COUNTERS = 64  # counter names per app instance, over its life
MAX_COUNTER_NAME = 64
MAX_OPEN_EVENTS = 4096  # long-lived events of one instance whose ids are remembered
MAX_APP_ID = 200  # characters of an app's own event id
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
RECENT_S = 60.0  # a boundary problem this recent is the app's `last_error`
LOG_EVERY_S = 60.0  # rejected events and counters are logged at most this often per app


class GuardedApp(App):
    """`app` behind the boundary (see the module docstring); the engine's view of an app.

    It mirrors the app's ``name``, ``kind``, ``emits`` and ``needs_pixels``; other
    attributes (``status`` of a sandboxed app's own supervision, ``close``...) are the
    app's."""

    def __init__(self, app: App):
        # No super().__init__: the settings are the app's, already validated.
        self.app = app
        self.name = app.name
        self.kind = app.kind  # type: ignore[misc]
        self.emits = app.emits  # type: ignore[misc]
        self.needs_pixels = app.needs_pixels  # type: ignore[misc]
        self.restorable = app.restorable  # type: ignore[misc]
        self.state_version = app.state_version  # type: ignore[misc]
        self._ids: OrderedDict[str, str] = OrderedDict()  # app's id -> Vigil's, open events
        self._counter_names: set[str] = set()
        self._counters: dict[str, float] = {}
        self.errors = 0  # calls that raised
        self.rejected = 0  # events and counter names refused
        self._failing = 0  # consecutive calls that raised
        self._skip_until = 0.0
        self._problem: tuple[float, str] | None = None  # (when, one line)
        self._logged_at = -math.inf
        self._unlogged = 0

    def __getattr__(self, name: str) -> Any:
        if name == "app":  # not set yet (unpickling, a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self.app, name)

    def __repr__(self) -> str:
        return f"GuardedApp({self.app!r})"

    # -- App interface ------------------------------------------------------------------
    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        return self._call("process", ctx, objects)

    def finish(self, ctx: FrameContext) -> list[Event]:
        return self._call("finish", ctx)

    def counters(self) -> dict[str, float]:
        try:
            raw = self.app.counters()
            if not isinstance(raw, Mapping):
                raise TypeError(f"counters() returned a {type(raw).__name__}, not a dict")
            items = list(raw.items())
        except Exception as exc:
            self._raised("counters", exc)
            return dict(self._counters)
        counters: dict[str, float] = {}
        for name, value in items:
            if name not in self._counter_names:
                problem = text_problem(name, MAX_COUNTER_NAME)
                if problem is None and len(self._counter_names) >= MAX_COUNTERS:
                    problem = f"is one more than the {MAX_COUNTERS} an app may have"
                if problem is not None:
                    self._reject(f"counter {_show(name)} {problem}")
                    continue
                self._counter_names.add(name)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                number = float(value)
                if math.isfinite(number):
                    counters[name] = number
        self._counters = counters
        return dict(counters)

    def saved_state(self) -> dict[str, Any] | None:
        """What to save of a `restorable` app: ``{"kind", "version", "state"}`` with its
        `App.snapshot`; None for an app that is not restorable, or whose snapshot raised or
        is not JSON within `MAX_STATE_BYTES` (counted and reported as rejected)."""
        if not self.restorable:
            return None
        try:
            state = self.app.snapshot()
            if not isinstance(state, dict):
                raise TypeError(f"snapshot() returned a {type(state).__name__}, not a dict")
            state = json_value(state, replace_invalid=True)
            size = len(json.dumps(state, separators=(",", ":")).encode())
        except Exception as exc:
            self._reject(f"state not saved: {type(exc).__name__}: {exc}")
            return None
        if size > MAX_STATE_BYTES:
            self._reject(f"state not saved: {size} bytes, more than {MAX_STATE_BYTES}")
            return None
        return {"kind": self.kind, "version": self.state_version, "state": state}

    def restore_saved(self, saved: object) -> bool:
        """Give the app a state `saved_state` made (by an earlier instance); False, with one
        log line, when it is not the same kind and version or `App.restore` raised: the app
        is then as it started."""
        problem = _saved_state_problem(saved, self.kind, self.state_version)
        if problem is None and not self.restorable:
            problem = "the app no longer restores its state"
        if problem is None:
            assert isinstance(saved, dict)
            fresh: dict[str, Any] | None = None  # to roll a half-done restore back
            try:
                fresh = self.app.snapshot()
                self.app.restore(saved["state"])
                return True
            except Exception as exc:
                problem = f"restore() raised {type(exc).__name__}: {exc}"
            if fresh is not None:
                with contextlib.suppress(Exception):
                    self.app.restore(fresh)
        log.warning(
            "app %r: saved state not restored, starting afresh: %s", self.name, one_line(problem)
        )
        return False

    def status(self) -> dict[str, Any]:
        """The app's own status (a sandboxed app's supervision; else ``running``), with the
        boundary's ``errors`` and ``rejected`` counts and ``backoff_s`` (seconds it is still
        skipped for); a running app in backoff is ``failing``. A boundary problem of the
        last minute is its ``last_error``."""
        own = getattr(self.app, "status", None)
        report: dict[str, Any] = dict(own()) if callable(own) else {"state": "running"}
        report.setdefault("last_error", None)
        if self._problem is not None and (
            report["last_error"] is None or time.monotonic() - self._problem[0] < RECENT_S
        ):
            report["last_error"] = self._problem[1]
        report["errors"] = self.errors
        report["rejected"] = self.rejected
        report["backoff_s"] = max(0.0, self._skip_until - time.monotonic())
        if report["backoff_s"] > 0 and report.get("state") == "running":
            report["state"] = "failing"
        return report

    def close(self) -> None:
        close = getattr(self.app, "close", None)
        if callable(close):
            close()

    # -- the boundary -------------------------------------------------------------------
    def _call(self, method: str, ctx: FrameContext, *args: Any) -> list[Event]:
        now = time.monotonic()
        if now < self._skip_until and method == "process":
            return []
        try:
            raw = list(getattr(self.app, method)(ctx, *args))
        except Exception as exc:
            self._raised(method, exc)
            return []
        self._failing = 0
        events = []
        for item in raw:
            try:
                events.append(self._admit(item, ctx))
            except ValueError as exc:
                self._reject(f"event rejected: {exc}")
        return events

    def _admit(self, item: object, ctx: FrameContext) -> Event:
        """The event as Vigil stores it: checked, stamped, with Vigil's id."""
        event = storable_event(item)
        return _replace_owner(event, ctx.source_id, self.name, self._own_id(event))

    def _own_id(self, event: Event) -> str:
        if event.state == "instant":
            return new_event_id()
        key = event.id
        if not isinstance(key, str) or not 0 < len(key) <= MAX_APP_ID:
            raise ValueError(f"id must be a string of 1..{MAX_APP_ID} characters")
        if event.state == "start":
            self._ids[key] = own = new_event_id()
            self._ids.move_to_end(key)
            while len(self._ids) > MAX_OPEN_EVENTS:  # forgotten: its end will be rejected
                self._ids.popitem(last=False)
            return own
        known = self._ids.pop(key, None) if event.state == "end" else self._ids.get(key)
        if known is None:
            raise ValueError(f"{event.state} of event {_show(key)} that was not started")
        return known

    def _raised(self, method: str, exc: Exception) -> None:
        self.errors += 1
        self._failing += 1
        backoff = min(BACKOFF_INITIAL_S * 2 ** (self._failing - 1), BACKOFF_MAX_S)
        self._skip_until = time.monotonic() + backoff
        line = one_line(f"{method}() raised {type(exc).__name__}: {exc}")
        self._problem = (time.monotonic(), line)
        log.error(
            "app %r: %s (%d in a row; skipped for %.0f s)",
            self.name, line, self._failing, backoff,
        )  # fmt: skip

    def _reject(self, problem: str) -> None:
        self.rejected += 1
        now = time.monotonic()
        self._problem = (now, one_line(problem))
        self._unlogged += 1
        if now - self._logged_at >= LOG_EVERY_S:
            log.warning(
                "app %r: %s (%d rejected since the last report)",
                self.name, self._problem[1], self._unlogged,
            )  # fmt: skip
            self._logged_at, self._unlogged = now, 0


def guarded(app: App) -> GuardedApp:
    """`app` behind the boundary (itself if it already is)."""
    return app if isinstance(app, GuardedApp) else GuardedApp(app)


def _saved_state_problem(saved: object, kind: str, version: int) -> str | None:
    """Why `saved` is not a state `GuardedApp.saved_state` made for this kind and version."""
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
        return f"not a saved state: {_show(saved)}"
    if saved.get("kind") != kind:
        return f"saved by app type {_show(saved.get('kind'))}, not {kind!r}"
    if saved.get("version") != version:
        return f"state version {_show(saved.get('version'))}, the app's is {version}"
    return None


def _replace_owner(event: Event, source: str, app: str, event_id: str) -> Event:
    event.source, event.app, event.id = source, app, event_id  # a copy already
    return event


def _show(value: object, limit: int = 40) -> str:
    """`value` for a log line: repr, bounded (a hostile name may be megabytes)."""
    if isinstance(value, str):
        value = value[:limit]
    text = ascii(value)
    return text if len(text) <= limit + 10 else text[: limit + 9] + "…"
