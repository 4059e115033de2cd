"""`vigil bench`: `vigil run` against a hand-written pipeline, both timed as whole commands.

Speed as a user measures it: each contender is started as its own process and timed from
start to exit (imports, model loading, writing outputs included), and the contenders run back
to back in rounds whose order rotates, so that a machine busy with something else slows all
of them alike. Each round gives one ratio per contender (the reference's time ÷ its time in
the same round); the report gives the median over rounds. Other work does not slow the
contenders alike, though (the reference, whose inference threads spin, suffers most), so the
report also gives the share of the machine's CPU time that other processes took while the
commands ran, says when the machine was busy, and gives each command's own CPU time (user +
system, its threads and children included), which other work changes much less.

Contenders: `vigil run` with the given config (annotated video included, as by default),
the same with `--no-video`, and the hand-written reference (`reference_pipeline.py`: OpenCV
decode, the model on every frame at its released input size, Roboflow `trackers` ByteTrack).
`trackers` and `supervision` require GUI OpenCV, which must not replace the headless one in
Vigil's environment, so they are installed without dependencies into a directory of their own
(pinned versions) that only the reference's process sees.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vigil.config.schema import VigilConfig
from vigil.detection.models import cache_dir, resolve_model
from vigil.errors import SourceError, VigilError
from vigil.sources.video import is_network_url

REFERENCE_SCRIPT = Path(__file__).with_name("reference_pipeline.py")
# Imported by `trackers` and `supervision` at start (Pillow too: Vigil's own install has none);
# their other requirements (NumPy, SciPy, OpenCV, requests, rich, PyYAML) are Vigil's too.
REFERENCE_PACKAGES = (
    "trackers==2.6.1",
    "supervision==0.31.2",
    "pydeprecate==0.14.0",
    "tqdm",
    "defusedxml",
    "pillow",
)
REFERENCE = "hand-written reference"
# Other processes taking more than this share of the CPU time while a contender ran: the
# machine was busy, and the ratios are not those of an idle machine.
BUSY_SHARE = 0.1


def default_reference_packages() -> Path:
    return cache_dir().parent / "bench-reference"


@dataclass(frozen=True)
class Contender:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class BenchReport:
    source: str
    frames: int | None  # None: the whole source
    seconds: dict[str, list[float]]  # per contender, one figure per round
    commands: dict[str, str] = field(default_factory=dict)
    # Share of the CPU time that other processes took while each command ran, in run order
    # (empty where the system does not tell).
    others: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, list[float]] = field(default_factory=dict)  # as `seconds`

    @property
    def rounds(self) -> int:
        return len(next(iter(self.seconds.values())))

    def speedups(self) -> dict[str, list[float]]:
        """Per contender other than the reference: reference time ÷ its time, per round."""
        reference = self.seconds[REFERENCE]
        return {
            name: [ref / own for ref, own in zip(reference, times)]
            for name, times in self.seconds.items()
            if name != REFERENCE
        }

    def cpu_ratios(self) -> dict[str, list[float]]:
        """Per contender other than the reference: reference CPU time ÷ its CPU time, per round."""
        if not self.cpu_seconds:
            return {}
        reference = self.cpu_seconds[REFERENCE]
        return {
            name: [ref / own for ref, own in zip(reference, times)]
            for name, times in self.cpu_seconds.items()
            if name != REFERENCE
        }

    def render(self) -> str:
        frames = "all frames" if self.frames is None else f"{self.frames} frames"
        lines = [
            f"vigil bench · {self.source} · {frames} · {self.rounds} "
            f"round{'s' if self.rounds != 1 else ''}, whole commands back to back",
            "",
        ]
        width = max(len(name) for name in self.seconds)
        for name, times in self.seconds.items():
            spread = " ".join(f"{t:.1f}" for t in times)
            line = f"  {name:<{width}}  {statistics.median(times):7.2f} s median  ({spread})"
            if name in self.cpu_seconds:
                line += f", CPU {statistics.median(self.cpu_seconds[name]):.1f} s"
            lines.append(line)
        lines.append("")
        cpu_ratios = self.cpu_ratios()
        for name, ratios in self.speedups().items():
            spread = " ".join(f"{r:.2f}" for r in ratios)
            line = (
                f"  {name:<{width}}  {statistics.median(ratios):5.2f}× the reference "
                f"(median of rounds: {spread})"
            )
            if name in cpu_ratios:
                line += f", {statistics.median(cpu_ratios[name]):.2f}× less CPU time"
            lines.append(line)
        if self.others:
            lines += [
                "",
                f"  other processes took {100 * min(self.others):.0f}-"
                f"{100 * max(self.others):.0f} % of the CPU time while the commands ran",
            ]
            if max(self.others) > BUSY_SHARE:
                lines[-1] += (
                    ": the machine was busy, which slows the contenders unequally; "
                    "measure again when it is idle"
                )
        return "\n".join(lines)

    def to_json(self, path: Path) -> None:
        data = asdict(self) | {
            "speedups": self.speedups(),
            "median_speedups": {k: statistics.median(v) for k, v in self.speedups().items()},
            "median_cpu_ratios": {k: statistics.median(v) for k, v in self.cpu_ratios().items()},
        }
        path.write_text(json.dumps(data, indent=2))


def run_benchmark(
    config: VigilConfig,
    config_path: Path | None,
    *,
    frames: int | None = None,
    rounds: int = 3,
    packages: Path | None = None,
    announce: Callable[[str], None] = lambda _: None,
) -> BenchReport:
    """Race `vigil run` (with and without video) against the reference on `config`'s source."""
    url = config.source.url or ""
    if is_network_url(url):
        raise SourceError(f"vigil bench needs a video file, not a stream: {url}")
    if not Path(url).is_file():
        raise SourceError(f"video not found: {url}")
    model = resolve_model(config.detector.model)
    packages = ensure_reference_packages(packages or default_reference_packages(), announce)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        work = Path(tmp)
        limit = ["--max-frames", str(frames)] if frames else []
        run = [sys.executable, "-m", "vigil.cli.main", "run", url, *limit]
        if config_path is not None:
            run += ["-c", str(config_path)]
        contenders = [
            Contender("vigil run", [*run, "-o", str(work / "run"), "--mot", str(work / "run.txt")]),
            Contender(
                "vigil run --no-video",
                [*run, "--no-video", "-o", str(work / "nv"), "--mot", str(work / "nv.txt")],
            ),
            Contender(
                REFERENCE,
                [
                    sys.executable,
                    str(REFERENCE_SCRIPT),
                    url,
                    str(model),
                    str(work / "reference.txt"),
                    "--confidence",
                    str(config.detector.confidence),
                    "--nms-iou",
                    str(config.detector.nms_iou),
                    *limit,
                ],
                with_python_path(packages),
            ),
        ]
        seconds, cpu_seconds, others = race(contenders, rounds, announce)
    commands = {c.name: " ".join(c.command) for c in contenders}
    return BenchReport(url, frames, seconds, commands, others, cpu_seconds)


def race(
    contenders: list[Contender], rounds: int, announce: Callable[[str], None] = lambda _: None
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
    """Wall-clock and CPU seconds of each contender per round, and the share of the machine's
    CPU time that other processes took while each command ran (empty where the system does
    not tell); round r starts with contender r mod n, so that none always runs first (cold
    caches) or last."""
    seconds: dict[str, list[float]] = {c.name: [] for c in contenders}
    cpu_seconds: dict[str, list[float]] = {c.name: [] for c in contenders}
    others: list[float] = []
    for r in range(rounds):
        order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
        for contender in order:
            busy, children = machine_cpu_seconds(), children_cpu_seconds()
            elapsed = time_command(contender)
            own = children_cpu_seconds() - children
            note = f", CPU {own:.2f} s"
            if busy is not None and (busy_after := machine_cpu_seconds()) is not None:
                share = max(0.0, busy_after - busy - own) / (elapsed * (os.cpu_count() or 1))
                others.append(min(1.0, share))
                note += f" (others: {100 * others[-1]:.0f} % CPU)"
            seconds[contender.name].append(elapsed)
            cpu_seconds[contender.name].append(own)
            announce(f"round {r + 1}/{rounds}: {contender.name} {elapsed:.2f} s{note}")
    return seconds, cpu_seconds, others


def machine_cpu_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux's /proc/stat), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds this process's finished children have used (the contenders)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(contender: Contender) -> float:
    """Seconds from start to exit; a failed command is a `VigilError` with its last words."""
    start = time.perf_counter()
    proc = subprocess.run(
        contender.command,
        env=contender.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        said = proc.stderr.strip().splitlines()
        raise VigilError(
            f"{contender.name} failed (exit {proc.returncode}): {said[-1] if said else 'no output'}"
        )
    return elapsed


def ensure_reference_packages(directory: Path, announce: Callable[[str], None]) -> Path:
    """`directory`, holding `trackers` and `supervision` (installed there on first use)."""
    probe = [sys.executable, "-c", "import trackers, supervision"]
    env = with_python_path(directory)
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return directory
    announce(f"installing the reference pipeline's tracker into {directory} (once)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(directory),
            *REFERENCE_PACKAGES,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or subprocess.run(probe, env=env, capture_output=True).returncode:
        said = proc.stderr.strip().splitlines()
        raise VigilError(
            f"cannot install {' '.join(REFERENCE_PACKAGES)} into {directory}: "
            f"{said[-1] if said else 'they do not import'}"
        )
    return directory


def with_python_path(directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), env.get("PYTHONPATH", "")) if p)
    return env
