"""The CPU use of a sandbox's process tree, measured from outside (`vigil.sandbox.cpu`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from vigil.sandbox.cpu import CpuRate, tree_cpu_seconds

# a parent that only waits for a grandchild that spins: the tree's CPU is the grandchild's
SPIN_IN_GRANDCHILD = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"
)


def _rate(command: str, window: float = 2.0) -> float:
    proc = subprocess.Popen([sys.executable, "-c", command], start_new_session=True)
    try:
        time.sleep(1.0)  # past the interpreters' start
        rate = CpuRate(proc.pid, window, every=0.25)
        start = time.monotonic()
        while (value := rate.sample(time.monotonic())) is None:
            assert time.monotonic() - start < window + 2
            time.sleep(0.05)
        return value
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_spinning_grandchild_counts_for_the_tree() -> None:
    # one core when the machine is idle; far less than that is enough on a busy one
    assert _rate(SPIN_IN_GRANDCHILD) > 0.1


def test_an_idle_tree_uses_almost_nothing() -> None:
    assert _rate("import time; time.sleep(30)") < 0.02


def test_a_gone_process_has_no_cpu_time() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert tree_cpu_seconds(proc.pid) == 0.0
