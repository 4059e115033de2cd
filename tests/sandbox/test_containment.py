"""Real containment under bubblewrap: files outside the app's own directory and the network are
out of reach (skipped, saying why, where bubblewrap cannot run)."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest
from sandbox_support import FAST, REPO, Installer, context, objects, requires_bwrap, sandboxed

pytestmark = requires_bwrap


def events_of(app, frames: int = 3) -> list:
    events = []
    for i in range(frames):
        events += app.process(context(i), objects(i))
    events += app.finish(context(frames - 1))
    assert app.status()["sandboxed"] is True
    return events


def probes(app, frames: int = 3) -> list[dict]:
    return [e.attributes for e in events_of(app, frames) if e.type == "probe"]


def test_files_outside_the_app_are_unreadable_and_its_dir_is_read_only(
    install: Installer, tmp_path: Path
) -> None:
    db = tmp_path / "site" / "vigil.db"
    recording = tmp_path / "recordings" / "cam" / "segment.mp4"
    for path in (db, recording):
        path.parent.mkdir(parents=True)
        path.write_text("SECRET")
    other = install("apps/ticker.py", "Ticker", app_id="other")
    secrets = [
        str(db),
        str(recording),
        str(other.site_dir / "ticker.py"),
        str(REPO / "pyproject.toml"),  # the checkout around Vigil's package
        "/etc/shadow",
        "/etc/passwd",
        str(Path.home() / ".bashrc"),
    ]
    app = sandboxed(install("hostile/snoop.py", "Snoop", events=("probe",)), {"paths": secrets})
    try:
        results = {p["path"]: p for p in probes(app)}
    finally:
        app.close()
    own = str(app.site_dir / "snoop.py")
    assert results[own]["read"] is True  # the probe works: its own module is readable
    for path in secrets:
        assert results[path]["read"] is False, f"{path} was readable: {results[path]}"
    planted = str(app.site_dir / "planted.txt")
    assert results[planted]["written"] is False and results[planted]["error"] == "OSError"
    assert not (app.site_dir / "planted.txt").exists()
    assert results["/tmp/scratch.txt"]["written"] is True  # a private, writable /tmp


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def test_network_is_cut_unless_declared(install: Installer, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    app = sandboxed(install("hostile/netcat.py", "Netcat", events=("probe",)), {"port": port})
    try:
        [result] = probes(app)
    finally:
        app.close()
    assert result["connected"] is False
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected


def test_declared_network_reaches_the_host(install: Installer, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    installed = install("hostile/netcat.py", "Netcat", events=("probe",), network=True)
    app = sandboxed(installed, {"port": port})
    try:
        [result] = probes(app)
    finally:
        app.close()
    assert result == {"connected": True}
    conn, _ = listener.accept()
    conn.settimeout(2)
    assert conn.recv(100) == b"exfiltrated"
    conn.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="per-sandbox users (and RLIMIT_NPROC) need root")
def test_processes_are_limited_per_sandbox(install: Installer) -> None:
    limits = dataclasses.replace(FAST, max_processes=8)
    app = sandboxed(install("hostile/forker.py", "Forker", events=("probe",)), limits=limits)
    other = sandboxed(
        install("apps/ticker.py", "Ticker", events=("tick", "done")), {"zone": "left"}
    )
    try:
        [result] = probes(app)
        # another sandbox has a budget of its own: it starts and answers
        assert [e.type for e in events_of(other)] == ["tick"] * 3 + ["done"]
    finally:
        app.close()
        other.close()
    assert 0 < result["forked"] < 8, result  # the host itself counts too
