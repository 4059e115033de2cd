"""Sandbox life cycle: failing for good, dying with the parent, running without bubblewrap."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sandbox_support import FAST, HERE, Installer, context, descendants, objects, sandboxed

from service.test_serve_e2e import running
from vigil.sandbox import app as sandbox_app
from vigil.sandbox import bwrap


def test_too_many_restarts_fail_for_good(
    install: Installer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = dataclasses.replace(FAST, max_restarts=1, backoff_initial_s=0.05)
    app = sandboxed(install("hostile/raiser.py", "Raiser"), limits=limits)
    try:
        deadline = time.monotonic() + 30
        i = 0
        while app.status()["state"] != "failed" and time.monotonic() < deadline:
            app.process(context(i), objects(i))
            i += 1
            time.sleep(0.02)
        assert app.status()["state"] == "failed"
        assert app.status()["restarts"] == 1
        for proc in list(app._live):  # killed: gone in a moment
            proc.wait(timeout=5)
        t0 = time.perf_counter()
        assert app.process(context(i), objects(i)) == []  # stays stopped, costs nothing
        assert time.perf_counter() - t0 < 0.01
        assert app.status()["state"] == "failed"
    finally:
        app.close()
    failed = [r for r in caplog.records if "failed for good" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert "raised on 3 frames in a row: RuntimeError" in failed[0].getMessage()


def test_close_kills_the_sandbox(install: Installer) -> None:
    app = sandboxed(install("apps/ticker.py", "Ticker", events=("tick",)), {"zone": "left"})
    app.process(context(0), objects(0))
    deadline = time.monotonic() + 10
    while app._child.proc is None and time.monotonic() < deadline:  # started by the spawner
        time.sleep(0.01)
    proc = app._child.proc
    app.close()
    proc.wait(timeout=5)
    assert app.process(context(1), objects(1)) == []
    assert app.status()["state"] == "stopped"


def test_close_while_starting_kills_what_starts(install: Installer) -> None:
    app = sandboxed(install("apps/ticker.py", "Ticker", events=("tick",)), {"zone": "left"})
    app.process(context(0), objects(0))
    child = app._child
    app.close()  # most likely before the spawner thread started the process
    deadline = time.monotonic() + 10
    while child.proc is None and child.spawn_error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.proc is not None
    child.proc.wait(timeout=5)


WORKER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
from vigil.apps.manifest import AppManifest
from vigil.appstore.installed import InstalledApp
from sandbox_support import context, objects, sandboxed
manifest = AppManifest(id="ticker", name="t", version="1.0.0", vendor="t", sdk=">=1",
                       events=["tick"], entry_point="ticker:Ticker")
app = sandboxed(InstalledApp(manifest, Path({site!r}).parent, Path({site!r})), {{"zone": "left"}})
i = 0
while True:
    if app.process(context(i), objects(i)):
        print("events", flush=True)
    i += 1
    time.sleep(0.05)
"""


def test_sandbox_dies_with_its_parent(install: Installer) -> None:
    installed = install("apps/ticker.py", "Ticker", events=("tick",))
    code = textwrap.dedent(WORKER.format(here=str(HERE), site=str(installed.site_dir)))
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "events\n"
        sandbox = descendants(worker.pid)
        assert sandbox  # bubblewrap and the host (or the bare host)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=5)
        deadline = time.monotonic() + 5
        while any(running(p) for p in sandbox) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(running(p) for p in sandbox)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.fixture
def without_bwrap(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VIGIL_BWRAP", "off")
    monkeypatch.setattr(sandbox_app, "_warned_unsandboxed", False)
    bwrap.launcher.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    bwrap.launcher.cache_clear()


def test_without_bubblewrap_apps_do_not_start_unless_the_operator_allows_it(
    without_bwrap: pytest.MonkeyPatch, install: Installer, caplog: pytest.LogCaptureFixture
) -> None:
    without_bwrap.delenv(bwrap.UNSANDBOXED_ENV, raising=False)
    app = sandboxed(install("apps/ticker.py", "Ticker", events=("tick", "done")), {"zone": "left"})
    try:
        events = []
        deadline = time.monotonic() + 10
        i = 0
        while app.status()["state"] != "failed" and time.monotonic() < deadline:
            events += app.process(context(i), objects(i))
            i += 1
            time.sleep(0.03)
        status = app.status()
    finally:
        app.close()
    assert events == [] and status["state"] == "failed" and status["restarts"] == 0, status
    assert status["last_error"] == (
        "not started: no sandbox here (disabled by VIGIL_BWRAP); "
        "VIGIL_UNSANDBOXED_APPS=allow runs store apps without isolation"
    )
    lines = [r.getMessage() for r in caplog.records if "failed for good" in r.getMessage()]
    assert len(lines) == 1 and status["last_error"] in lines[0]


def test_without_bubblewrap_apps_run_bare_with_limits_if_allowed_and_say_so(
    without_bwrap: pytest.MonkeyPatch, install: Installer, caplog: pytest.LogCaptureFixture
) -> None:
    without_bwrap.setenv(bwrap.UNSANDBOXED_ENV, "allow")
    good = sandboxed(install("apps/ticker.py", "Ticker", events=("tick", "done")), {"zone": "left"})
    limits = dataclasses.replace(FAST, memory_mb=320, frame_deadline_s=5.0)
    hog = sandboxed(install("hostile/hog.py", "Hog"), limits=limits)
    try:
        events = []
        deadline = time.monotonic() + 20
        i = 0
        while (i < 10 or hog.status()["state"] == "running") and time.monotonic() < deadline:
            events += good.process(context(i), objects(i))
            hog.process(context(i), objects(i))
            i += 1
            time.sleep(0.03)
        events += good.finish(context(i - 1))
    finally:
        good.close()
        hog.close()
    assert [e.attributes["frame"] for e in events if e.type == "tick"] == list(range(i))
    assert good.status()["sandboxed"] is False
    assert hog.status()["last_error"] == "memory limit of 320 MiB reached"
    warnings = [r.getMessage() for r in caplog.records if "SANDBOX UNAVAILABLE" in r.getMessage()]
    assert len(warnings) == 1 and "disabled by VIGIL_BWRAP" in warnings[0]
