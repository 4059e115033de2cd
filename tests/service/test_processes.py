"""`vigil.service.processes`: children end with their parent, and stop in order or are killed.

Real processes throughout: a parent Python process is SIGKILLed and its child must go.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from polling import eventually
from vigil.service.processes import start_process, stop_processes

CHILD = """
import signal, time
from vigil.service.processes import watch_parent

def run(ignore_term=False, ready=None):
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        watch_parent()
    if ready:
        open(ready, "w").close()
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, dead, cannot reap it before init does).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def test_a_child_stops_when_its_parent_is_killed(tmp_path: Path):
    (tmp_path / "child.py").write_text(CHILD)
    parent = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        import child
        from vigil.service.processes import start_process
        if __name__ == "__main__":
            process = start_process(child.run, (), "child")
            print(process.pid, flush=True)
            time.sleep(120)
        """
    )
    script = tmp_path / "parent.py"
    script.write_text(parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        assert alive(child_pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        assert eventually(lambda: not alive(child_pid)), "the child outlived its parent"
    finally:
        proc.kill()
        proc.wait(5)


def test_stop_processes_terminates_and_kills_what_ignores_sigterm(tmp_path: Path):
    sys.path.insert(0, str(tmp_path))
    try:
        (tmp_path / "child.py").write_text(CHILD)
        import child  # noqa: PLC0415 - written just above

        ready = tmp_path / "ready"
        polite = start_process(child.run, (), "polite")
        stubborn = start_process(child.run, (True, str(ready)), "stubborn")
        assert eventually(ready.exists, timeout=30)  # it has set SIGTERM aside
        started = time.monotonic()
        killed = stop_processes([polite, stubborn], grace=1.0)
        assert killed == [stubborn]
        assert not polite.is_alive() and polite.exitcode == -signal.SIGTERM
        assert stubborn.exitcode == -signal.SIGKILL
        assert time.monotonic() - started < 5
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("child", None)


REPORTER = """
import gc, json, os, sys

def report(path):
    with open(path, "w") as out:
        json.dump(
            {
                "mark": os.environ.get("VIGIL_TEST_MARK"),
                "preloaded": "vigil.service.worker.camera" in sys.modules,
                "frozen": gc.get_freeze_count(),
            },
            out,
        )
"""


def test_children_share_the_preloaded_modules_and_get_the_current_environment(
    tmp_path: Path, monkeypatch
):
    (tmp_path / "reporter.py").write_text(REPORTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import reporter  # noqa: PLC0415 - written just above

        def child_report(name: str) -> dict:
            process = start_process(reporter.report, (str(tmp_path / name),), name)
            process.join(30)
            assert process.exitcode == 0
            return json.loads((tmp_path / name).read_text())

        monkeypatch.setenv("VIGIL_TEST_MARK", "first")
        first = child_report("first")
        # Set after the fork server started (with the first child): the next child sees it.
        monkeypatch.setenv("VIGIL_TEST_MARK", "second")
        second = child_report("second")
    finally:
        sys.modules.pop("reporter", None)
    assert (first["mark"], second["mark"]) == ("first", "second")
    # The worker's modules came loaded from the fork server, out of the collector's reach.
    assert second["preloaded"] and second["frozen"] > 10_000
