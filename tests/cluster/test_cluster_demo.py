"""`vigil demo --nodes N --cameras M`: a cluster site on this machine that a user starts with
one command and stops with SIGTERM, leaving no Ray or PostgreSQL process behind."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from tests.service.test_serve_e2e import start_service, stop_process, wait_for

pytestmark = [pytest.mark.loopback_namespace]


def processes_of(folder: Path) -> list[str]:
    """Command lines of live processes that name `folder` (Ray nodes, PostgreSQL)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or ())
        if str(folder) in line and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(line[:200])
    return found


def test_cluster_demo_runs_every_camera_and_stops_everything(
    tmp_path: Path,
    tiny_models: Path,
    rtsp_clip: Callable[..., Path],
    request: pytest.FixtureRequest,
):
    clip = rtsp_clip(width=416, height=320, fps=10, seconds=4)
    # Its private PostgreSQL runs as the `postgres` user under root: not in pytest's
    # private temporary folders.
    shared = Path(tempfile.mkdtemp(prefix="vigil-demo-"))
    shared.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    data = shared / "demo"
    args = ["demo", str(clip), "--data", str(data), "--port", "0", "--nodes", "2", "--cameras", "3"]
    process, stdout, log = start_service(args, tmp_path, tiny_models)
    try:
        wait_for(
            lambda: _url(stdout.read_text(), process, log.tail()), 150, "the printed URL", log=log
        )
        text = log.text()
        assert (
            "Started a private PostgreSQL in" in text and "Started a local Ray cluster of 2" in text
        )
        site = (data / "cluster-site.yaml").read_text()
        assert site.count("loop: true") == 3 and "token_file:" in site
        # Every camera runs, on one of the two nodes (the log says where).
        wait_for(lambda: all(f"camera campus-{i}: runs on node" in log.text() for i in (1, 2, 3)),
                 60, "every camera placed", log=log)  # fmt: skip
        assert processes_of(data)  # the Ray nodes and PostgreSQL run from the demo folder
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(90)
        except Exception:
            stop_process(process, signal.SIGKILL)
            raise
    assert code == 0, log.tail()
    deadline = time.monotonic() + 10
    while processes_of(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_of(data), processes_of(data)


def _url(stdout: str, process: object, tail: str) -> str | None:
    import re

    if process.poll() is not None:
        raise AssertionError(f"vigil demo exited:\n{tail}")
    match = re.search(r"running at (http://127\.0\.0\.1:\d+)", stdout)
    return match.group(1) if match else None
