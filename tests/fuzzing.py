"""Bounded coverage-guided fuzzing (atheris / libFuzzer) inside the test suite.

A harness is a script that defines ``test_one_input(data: bytes)`` (raising only on a real
defect) and ends with ``fuzz_main(test_one_input)``, importing the code under test inside
``atheris.instrument_imports()``. A test runs it with `run_harness`: a fixed number of
inputs from a fixed seed, starting from a few seed inputs, in a subprocess (libFuzzer ends
the process it runs in); an uncaught exception is a crash and fails the test with the input.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

MAX_LEN = 64 * 1024


def fuzz_main(test_one_input: Callable[[bytes], None]) -> None:
    """The harness's entry point: libFuzzer with the command line `run_harness` gives."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def run_harness(
    harness: Path, corpus: Path, seeds: Iterable[bytes], runs: int, timeout_s: float = 120
) -> str:
    """Run `harness` on `runs` inputs grown from `seeds` (written to `corpus`); its output.
    Fails the calling test when the harness crashed (the output names the input)."""
    pytest.importorskip("atheris")
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    command = [
        sys.executable,
        str(harness),
        f"-runs={runs}",
        "-seed=1",
        f"-max_len={MAX_LEN}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={corpus.parent}/",
        str(corpus),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, cwd=corpus.parent
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{harness.name} crashed:\n{output[-4000:]}"
    assert "Done" in output, output[-2000:]
    return output
