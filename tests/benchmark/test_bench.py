"""`vigil bench`: whole commands raced back to back in rotating order, ratios per round."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.benchmark.bench import (
    REFERENCE,
    REFERENCE_SCRIPT,
    BenchReport,
    Contender,
    ensure_reference_packages,
    race,
    time_command,
    with_python_path,
)
from vigil.errors import VigilError


def appender(log: Path, letter: str) -> Contender:
    """A real command that leaves its letter in `log` when it runs."""
    code = f"open({str(log)!r}, 'a').write({letter!r})"
    return Contender(letter, [sys.executable, "-c", code])


def test_race_rotates_the_order_and_times_every_round(tmp_path: Path) -> None:
    log = tmp_path / "order.txt"
    seconds, cpu_seconds, others = race([appender(log, letter) for letter in "ABC"], rounds=4)
    assert log.read_text() == "ABC" + "BCA" + "CAB" + "ABC"
    assert {name: len(times) for name, times in seconds.items()} == {"A": 4, "B": 4, "C": 4}
    assert all(t > 0 for times in seconds.values() for t in times)
    assert {name: len(times) for name, times in cpu_seconds.items()} == {"A": 4, "B": 4, "C": 4}
    assert len(others) == 12 and all(0 <= share <= 1 for share in others)


def test_race_measures_the_cpu_that_other_processes_take(tmp_path: Path) -> None:
    """A process spinning beside the contenders shows as other work: about one CPU's worth."""
    idle = Contender("idle", [sys.executable, "-c", "import time; time.sleep(1.5)"])
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        _, _, others = race([idle], rounds=1)
    finally:
        spinner.kill()
        spinner.wait()
    assert others[0] >= 0.7 / (os.cpu_count() or 1)


def test_race_measures_each_command_s_own_cpu_time_threads_included() -> None:
    """A command that keeps two threads busy for 0.6 s of wall time used about 1.2 s of CPU
    (on one core: 0.6 s of wall time per thread); an idle one, next to none."""
    spin = (
        "import threading, time\n"
        "def spin():\n"
        "    end = time.thread_time() + 0.6\n"
        "    while time.thread_time() < end: pass\n"
        "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
    )
    busy = Contender("busy", [sys.executable, "-c", spin])
    idle = Contender("idle", [sys.executable, "-c", "import time; time.sleep(0.6)"])
    _, cpu_seconds, _ = race([busy, idle], rounds=1)
    assert cpu_seconds["busy"][0] >= 1.2
    assert cpu_seconds["idle"][0] < 0.5


def test_a_failing_command_is_one_line_naming_it(tmp_path: Path) -> None:
    failing = Contender(
        "vigil run", [sys.executable, "-c", "import sys; sys.exit('vigil: error: no model')"]
    )
    with pytest.raises(VigilError, match=r"^vigil run failed \(exit 1\): vigil: error: no model$"):
        time_command(failing)


def test_report_gives_the_median_of_per_round_ratios() -> None:
    report = BenchReport(
        "clip.avi",
        None,
        {
            "vigil run": [10.0, 20.0, 12.0],
            "vigil run --no-video": [5.0, 10.0, 6.0],
            REFERENCE: [30.0, 30.0, 30.0],
        },
    )
    # Ratios pair the reference with the same round (back to back), not medians of times.
    assert report.speedups() == {
        "vigil run": [3.0, 1.5, 2.5],
        "vigil run --no-video": [6.0, 3.0, 5.0],
    }
    text = report.render()
    assert "3 rounds, whole commands back to back" in text
    assert re.search(
        r"vigil run +2\.50× the reference \(median of rounds: 3\.00 1\.50 2\.50\)", text
    )
    assert re.search(r"vigil run --no-video +5\.00× the reference", text)
    assert re.search(r"vigil run +12\.00 s median  \(10\.0 20\.0 12\.0\)", text)
    assert "other processes" not in text  # not measured
    assert "CPU" not in text


def test_report_gives_cpu_time_and_its_ratio() -> None:
    report = BenchReport(
        "clip.avi",
        None,
        {"vigil run": [10.0, 12.0], REFERENCE: [20.0, 30.0]},
        cpu_seconds={"vigil run": [15.0, 16.0], REFERENCE: [30.0, 40.0]},
    )
    text = report.render()
    assert re.search(r"vigil run +11\.00 s median  \(10\.0 12\.0\), CPU 15\.5 s", text)
    assert re.search(
        r"2\.25× the reference \(median of rounds: 2\.00 2\.50\), 2\.25× less CPU", text
    )


def test_report_says_when_the_machine_was_busy() -> None:
    seconds = {"vigil run": [10.0, 10.0], REFERENCE: [20.0, 20.0]}
    idle = BenchReport("clip.avi", None, seconds, others=[0.01, 0.03, 0.0, 0.02]).render()
    assert "other processes took 0-3 % of the CPU time while the commands ran" in idle
    assert "busy" not in idle
    busy = BenchReport("clip.avi", None, seconds, others=[0.01, 0.4, 0.0, 0.02]).render()
    assert "other processes took 0-40 % of the CPU time while the commands ran: the machine" in busy
    assert "measure again when it is idle" in busy


@pytest.fixture(scope="session")
def reference_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`trackers` and `supervision` installed as the bench installs them (from PyPI, once)."""
    directory = tmp_path_factory.mktemp("bench-reference")
    try:
        return ensure_reference_packages(directory, lambda _: None)
    except VigilError as err:
        pytest.skip(f"reference packages not installable here: {err}")


def test_bench_races_whole_commands_and_prints_the_speedups(
    walker_clip, tiny_models: Path, reference_packages: Path, tmp_path: Path
) -> None:
    (tmp_path / "site.yaml").write_text("detector:\n  input_size: [416, 320]\n")
    env = dict(os.environ, VIGIL_MODELS=str(tiny_models), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    command = [sys.executable, "-m", "vigil.cli.main", "bench", str(walker_clip.path)]
    options = ["-c", "site.yaml", "--frames", "8", "--rounds", "1", "--json", "bench.json"]
    proc = subprocess.run(
        [*command, *options, "--reference-packages", str(reference_packages)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 round, whole commands back to back" in proc.stdout
    assert re.search(r"vigil run +[0-9.]+× the reference", proc.stdout)
    assert re.search(r"vigil run --no-video +[0-9.]+× the reference", proc.stdout)
    assert "round 1/1: hand-written reference" in proc.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert set(report["median_speedups"]) == {"vigil run", "vigil run --no-video"}
    assert [len(times) for times in report["seconds"].values()] == [1, 1, 1]


def test_reference_pipeline_tracks_the_walkers(
    walker_clip, tiny_models: Path, reference_packages: Path, tmp_path: Path
) -> None:
    """The reference is a real pipeline: it detects and tracks, it is not a loop that idles."""
    mot = tmp_path / "reference.txt"
    subprocess.run(
        [
            sys.executable,
            str(REFERENCE_SCRIPT),
            str(walker_clip.path),
            str(tiny_models / "yolox_nano.onnx"),
            str(mot),
        ],
        env=with_python_path(reference_packages),
        check=True,
        capture_output=True,
    )
    rows = [line.split(",") for line in mot.read_text().splitlines()]
    ids = {row[1] for row in rows}
    assert len(ids) == 2  # the two walkers, each one track; the green car is not a person
    assert {int(row[0]) for row in rows} >= set(range(5, walker_clip.frames + 1))
