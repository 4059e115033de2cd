"""Stream density of `vigil serve`: how many 720p cameras this machine runs with detection,
and how event latency, resilience and memory hold up (issue 3's targets).

    python benchmarks/service_density.py [--cameras 1,2,4,8,12] [--duration 60]
    python benchmarks/service_density.py --duration 300      # the issue's 5-minute levels
    python benchmarks/service_density.py --resilience [--cameras 3]
    python benchmarks/service_density.py --soak 30 [--soak-mark 5] [--cameras 4]

Everything is local: the sample clip transcoded once to 1280x720 H.264 at 15 fps (cached in
--cache), a GStreamer RTSP server looping it on one mount per camera without re-encoding
(tests/rtsp/harness.py), mosquitto (tests/mqtt_broker.py), and `vigil serve` as a child
process with N cameras (detect_fps 5, motion gating, continuous recording, a counting line
and occupancy, as in `vigil demo`). Needs the test extras (`pip install -e .[test]`), the Debian packages
of tests/rtsp/harness.py and mosquitto, and the model (VIGIL_MODELS).

Density: for each camera count (stopping at the first that fails) the service runs
--duration seconds after every camera is online plus --warmup seconds, sampled every
--interval seconds: CPU and resident memory of its process tree (/proc), frame counters
(/metrics), camera state and detector latency (/api/cameras/ID), and every event on MQTT
(latency = receipt − the payload's `wall_time`, the frame's capture time). A level passes
with zero dropped detection frames, every camera up at every sample, no worker restart and
at least 95 % of the expected N × detect_fps × duration frames processed.

Resilience: the RTSP server is killed after 20 s and restarted 10 s later; per camera, when
it is online again, the gap in /api/recordings, worker restarts (must be 0), and whether
every segment on disk decodes with PyAV after a SIGTERM.

Soak: one level of --soak minutes; resident memory (summed over the tree) at --soak-mark
minutes against the end (target: within 10 %).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import av
import numpy as np
import paho.mqtt.client as mqtt
import psutil
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from mqtt_broker import MosquittoBroker, find_mosquitto  # noqa: E402
from rtsp.harness import RtspServer, transcode_clip, unavailable_reason  # noqa: E402

SHARED = Path(os.environ.get("VIGIL_SHARED", ROOT.parent / "shared"))  # the clip, the model
VIGIL = Path(sys.executable).with_name("vigil")
WIDTH, HEIGHT, FPS, DETECT_FPS = 1280, 720, 15, 5
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
COUNTERS = ("frames_input", "frames_processed", "frames_dropped", "reconnects")
OUTAGE_S = 10.0  # resilience: how long the RTSP server stays down
MIN_PROCESSED = 0.95  # share of the expected detection frames a passing level processes


def demo_scene() -> dict[str, Any]:
    """Zones, lines and apps of `vigil demo`'s camera, drawn for the sample clip: a counting
    line, walkway occupancy and road intrusion."""
    site = yaml.safe_load(files("vigil.service").joinpath("demo_site.yaml").read_text())
    return {key: site["cameras"][0][key] for key in ("zones", "lines", "apps")}


# --------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class Usage:
    cpu_s: dict[int, float]  # per process: its CPU seconds plus those of the children it reaped
    rss_by_pid: dict[int, int]  # per process: resident bytes
    pss_by_pid: dict[int, int]  # per process: its share of resident bytes (see `pss`)
    kind_by_pid: dict[int, str]  # per process: what it is, for the reports (see `process_kind`)

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())

    @property
    def rss(self) -> int:
        """Resident bytes summed over the processes (a shared page counts in each)."""
        return sum(self.rss_by_pid.values())

    @property
    def pss(self) -> int:
        """The tree's resident memory: proportional set sizes summed over the processes
        (a page shared by n processes counts 1/n in each; pages shared with processes
        outside the tree count for their share only)."""
        return sum(self.pss_by_pid.values())


def tree_usage(root: int) -> Usage:
    """CPU time, RSS and PSS of `root` and each of its descendants (psutil)."""
    cpu: dict[int, float] = {}
    rss: dict[int, int] = {}
    pss: dict[int, int] = {}
    kind: dict[int, str] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        top = psutil.Process(root)
        for process in [top, *top.children(recursive=True)]:
            with (
                contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied),
                process.oneshot(),
            ):
                times = process.cpu_times()
                cpu[process.pid] = (
                    times.user + times.system + times.children_user + times.children_system
                )
                rss[process.pid] = process.memory_info().rss
                pss[process.pid] = process.memory_full_info().pss
                kind[process.pid] = process_kind(process)
    return Usage(cpu, rss, pss, kind)


def process_kind(process: psutil.Process) -> str:
    """The detector, multiprocessing's fork server or resource tracker, else the name."""
    name = process.name()
    command = " ".join(process.cmdline())
    if name == "vigil-detector":
        return "detector"
    for module, kind in (("forkserver", "fork server"), ("resource_tracker", "resource tracker")):
        if f"multiprocessing.{module}" in command:
            return kind
    return name


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK  # minus idle and iowait


# --------------------------------------------------------------------------- the stack


def camera_clip(cache: Path, bframes: int = 0) -> Path:
    """The sample clip as a 720p H.264 camera stream (Annex-B), transcoded once into `cache`;
    with `bframes` non-reference B-frames between its reference frames."""
    b = f"-b{bframes}" if bframes else ""
    clip = cache / f"vtest-{WIDTH}x{HEIGHT}-{FPS}fps{b}.h264"
    if not clip.is_file():
        partial = transcode_clip(
            SHARED / "data" / "vtest.avi",
            clip.with_suffix(".part.h264"),
            WIDTH,
            HEIGHT,
            FPS,
            bframes=bframes,
        )
        partial.replace(clip)
    return clip


def site_yaml(urls: list[str], broker: MosquittoBroker, data: Path) -> dict[str, Any]:
    record = {"mode": "continuous", "retain_days": 1}
    scene = demo_scene()
    cameras = [
        {"id": f"cam{i}", "url": url, "detect_fps": DETECT_FPS, "record": record, **scene}
        for i, url in enumerate(urls, 1)
    ]
    return {
        "cameras": cameras,
        "motion": {"enabled": True},
        "storage": {"directory": str(data)},
        "server": {"port": 0},
        "mqtt": {"enabled": True, "host": broker.host, "port": broker.port},
    }


def vigil_command(src: Path | None) -> tuple[list[str], dict[str, str]]:
    """The `vigil` command line and environment: this install's, or the tree whose `src/` is
    `src` (a baseline checkout measured side by side, run from its sources)."""
    env = {"VIGIL_MODELS": str(SHARED / "models"), **os.environ}
    if src is None:
        return [str(VIGIL)], env
    return [sys.executable, "-m", "vigil.cli.main"], {**env, "PYTHONPATH": str(src)}


def admin_token(site: Path, src: Path | None = None) -> str:
    """An API token of a new admin in the site's database, made with the CLI as an operator
    would (`vigil users add`, `vigil users token`): the API and /metrics require one."""
    command_line, env = vigil_command(src)
    name, password = "bench", secrets.token_urlsafe(16)
    for command, stdin in (
        (["add", name, "--admin", "--password-stdin"], password + "\n"),
        (["token", name], None),
    ):
        done = subprocess.run(
            [*command_line, "users", *command, "-c", str(site)],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"vigil users {command[0]}: {done.stderr.strip()}")
    return done.stdout.strip()


class Service:
    """`vigil serve -c SITE` as a child process; its log and stdout go to `directory`. Every
    request carries the bearer `token`."""

    def __init__(self, site: Path, directory: Path, token: str, src: Path | None = None):
        self.headers = {"Authorization": f"Bearer {token}"}
        self.log = directory / "serve.log"
        out = directory / "serve.out"
        command_line, env = vigil_command(src)
        with self.log.open("wb") as err, out.open("wb") as stdout:
            self.process = subprocess.Popen(
                [*command_line, "serve", "-c", str(site)], stdout=stdout, stderr=err, env=env
            )
        self.url = self._wait_url(out)

    def _wait_url(self, out: Path, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(r"running at (\S+)", out.read_text()):
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"vigil serve did not start: {self.log_tail()}")

    def api(self, path: str) -> Any:
        """GET /api/PATH, decoded."""
        return json.loads(self._get(f"/api/{path}"))

    def metrics(self) -> str:
        return self._get("/metrics").decode()

    def _get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def worker_restarts(self) -> dict[str, int]:
        """Per camera, the workers started beyond the first (from the service's log)."""
        started = [camera for camera, _ in self._workers_started()]
        return {camera: started.count(camera) - 1 for camera in set(started)}

    def worker_pids(self) -> dict[int, str]:
        """pid -> camera of every worker started."""
        return {int(pid): camera for camera, pid in self._workers_started()}

    def _workers_started(self) -> list[tuple[str, str]]:
        text = self.log.read_text(errors="replace")
        return re.findall(r"camera (\S+): worker started \(pid (\d+)\)", text)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit code (SIGKILL after `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@dataclass(frozen=True)
class Received:
    at: float  # wall time of receipt
    latency: float  # receipt − capture time of the event's frame
    in_service: float  # hand-over to the MQTT client − capture time


class EventListener:
    """Subscribes to every camera's events topic and keeps when and how late each arrived."""

    def __init__(self, broker: MosquittoBroker, topic: str = "vigil/+/events"):
        self.received: list[Received] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vigil-bench")
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        event = json.loads(message.payload)
        self.received.append(
            Received(now, now - event["wall_time"], event["published_at"] - event["wall_time"])
        )

    def between(self, start: float, end: float) -> list[Received]:
        return [r for r in self.received if start <= r.at <= end]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Stack:
    """RTSP server (one mount per camera), mosquitto, `vigil serve` and the event listener."""

    rtsp: RtspServer
    service: Service
    events: EventListener
    data: Path
    cameras: list[str]


@contextlib.contextmanager
def stack(n: int, clip: Path, directory: Path, src: Path | None = None) -> Iterator[Stack]:
    binary = find_mosquitto()
    if binary is None:
        raise SystemExit("mosquitto is not installed (Debian package `mosquitto`)")
    with contextlib.ExitStack() as cleanup:
        rtsp = RtspServer(
            {f"/cam{i}": {"source": f"file:{clip}", "fps": FPS} for i in range(1, n + 1)}
        )
        cleanup.callback(rtsp.close)
        rtsp.start()
        broker = MosquittoBroker(binary, directory)
        broker.start()
        cleanup.callback(broker.stop)
        events = EventListener(broker)
        cleanup.callback(events.close)
        site = directory / "site.yaml"
        data = directory / "data"
        urls = [rtsp.url(f"/cam{i}") for i in range(1, n + 1)]
        site.write_text(yaml.safe_dump(site_yaml(urls, broker, data)))
        service = Service(site, directory, admin_token(site, src), src)
        cleanup.callback(service.stop)
        yield Stack(rtsp, service, events, data, [f"cam{i}" for i in range(1, n + 1)])


# --------------------------------------------------------------------------- profile

#: Stages of a camera's CPU, matched against the frames of each py-spy stack (Python
#: functions as "name (file:line)", native ones as "symbol (library)"); the first stage, in
#: this order, with a frame matching its pattern takes the sample. The supervisor's samples
#: all go to "supervisor"; samples matching no stage are "python overhead".
STAGES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("live view", r"_publish_live|_publish_raw|_snapshot \(|imencode|annotate\.py"),
        ("motion", r"small_gray|motion/detector\.py|RegionGate\.sense"),
        ("colour conversion", r"to_ndarray|reformat|libswscale|sws_"),
        ("decode", r"libavcodec|Packet\.decode|packet\.pyx|avcodec_"),
        ("recording", r"recording/|segmenter|worker/boxes\.py"),
        ("demux", r"libavformat|\.demux|av_read_frame"),
        ("tracking", r"vigil/tracking/"),
        ("apps", r"vigil/apps/|vigil/appstore/|vigil/forensics/"),
        ("thread hand-off", r"Queue\.put|Queue\.get|FrameMailbox|LiveSource\._put|LiveSource\.get"),
        ("IPC", r"detector/client\.py|connection\.py|_send \(|pickle|shm\.py|messages\.py"),
        ("detection", r"onnxruntime|vigil/detection/|detector/service\.py|detector/batch"),
    )
)
#: The innermost frames of a thread that waits (a lock, the GIL, a condition, a socket, a
#: sleep) rather than runs: py-spy counts some as active where libc's symbols are missing.
WAITING = re.compile(
    r"^(pthread_cond_\w*wait|PyThread_acquire_lock\w*|sem_\w*wait|\w*futex\w*|epoll_wait|poll"
    r"|__poll|select|__select|nanosleep|clock_nanosleep\w*|take_gil|recv|__libc_recv|read"
    r"|__libc_read|accept\w*) "
)
WAIT_DEPTH = 3  # how many innermost frames are looked at for a wait
PROCESS = re.compile(r"^process (\d+):")


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(VIGIL.parent))
    if found is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy; it is in the test extra)")
    return found


class StackProfile:
    """py-spy sampling every thread of the `vigil serve` tree (native frames included, so
    FFmpeg and ONNX Runtime show) for `seconds`, as raw collapsed stacks in `path`."""

    def __init__(self, pid: int, seconds: float, path: Path, rate: int):
        self.path = path
        self.process = subprocess.Popen(
            [
                py_spy(), "record", "--pid", str(pid), "--subprocesses", "--native",
                "--format", "raw", "--rate", str(rate), "--duration", str(math.ceil(seconds)),
                "--output", str(path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def samples(self, timeout: float) -> dict[int, dict[str, int]]:
        """Per process, samples per stage ("waiting": threads blocked, not on a CPU). py-spy
        can hang on a loaded machine: after `timeout` s it is interrupted (it then writes
        what it has) and, failing that, killed."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGINT)
            try:
                out, _ = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, _ = self.process.communicate()
        if not self.path.is_file():
            raise RuntimeError(f"py-spy wrote no profile: {out.decode(errors='replace')[-300:]}")
        counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            owners = [i for i, f in enumerate(frames) if PROCESS.match(f)]
            if not owners or not count.isdigit():
                continue
            pid = int(PROCESS.match(frames[owners[-1]]).group(1))  # type: ignore[union-attr]
            counts[pid][stage_of(frames[owners[-1] + 1 :])] += int(count)
        return counts


def stage_of(frames: list[str]) -> str:
    if not frames or any(WAITING.match(frame) for frame in frames[-WAIT_DEPTH:]):
        return "waiting"
    for name, pattern in STAGES:
        if any(pattern.search(frame) for frame in frames):
            return name
    return "python overhead"


def stage_cpu(
    samples: dict[int, dict[str, int]], used_s: dict[int, float], supervisor: int
) -> dict[str, float]:
    """CPU seconds per stage: each process's measured CPU time shared out in proportion to
    its busy samples (so sampling bias between processes cancels out)."""
    out: dict[str, float] = defaultdict(float)
    for pid, seconds in used_s.items():
        busy = {s: n for s, n in samples.get(pid, {}).items() if s != "waiting"}
        total = sum(busy.values())
        if pid == supervisor:
            out["supervisor (API, MQTT, DB)"] += seconds
        elif total:
            for stage, n in busy.items():
                out[stage] += seconds * n / total
        else:
            out["unsampled"] += seconds
    return dict(out)


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Sample:
    at: float
    usage: Usage  # the vigil serve tree
    bench_cpu_s: float  # this script's tree: vigil serve, RTSP server, mosquitto, itself
    machine_cpu_s: float
    counters: dict[str, float]  # COUNTERS name -> total over the cameras
    recording_lag: float  # worst camera, seconds
    up: bool  # every camera
    detector_ms: list[float]  # per camera, median of its last status interval


def metric_totals(text: str) -> tuple[dict[str, float], float]:
    """Counters summed over cameras, and the worst recording lag, from /metrics."""
    totals = dict.fromkeys(COUNTERS, 0.0)
    lag = 0.0
    for family in text_string_to_metric_families(text):
        name = family.name.removeprefix("vigil_")
        for sample in family.samples:
            if name in totals and sample.name.endswith("_total"):
                totals[name] += sample.value
            elif name == "recording_lag_seconds":
                lag = max(lag, sample.value)
    return totals, lag


def sample(s: Stack) -> Sample:
    counters, lag = metric_totals(s.service.metrics())
    statuses = [s.service.api(f"cameras/{c}") for c in s.cameras]
    return Sample(
        at=time.time(),
        usage=tree_usage(s.service.process.pid),
        bench_cpu_s=tree_usage(os.getpid()).total_cpu_s,
        machine_cpu_s=machine_cpu_s(),
        counters=counters,
        recording_lag=lag,
        up=all(c["up"] for c in statuses),
        detector_ms=[c["status"]["detector_latency_ms"] for c in statuses if c["status"]],
    )


def wait_online(s: Stack, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(c["up"] for c in s.service.api("cameras")):
        if time.monotonic() > deadline or s.service.process.poll() is not None:
            raise RuntimeError(f"cameras not online after {timeout:g} s: {s.service.log_tail()}")
        time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass(frozen=True)
class Cpu:
    """Where the CPU went over a level, in % of one core."""

    supervisor: float  # vigil serve's main process: API, MQTT, database, metrics
    workers: float  # the camera workers: ingest, recording, analytics
    detector: float  # the rest of the vigil tree: the detector service (and the fork server, resource tracker)
    harness: float  # RTSP server, mosquitto, this script
    others: float  # the rest of the machine: other users

    @property
    def vigil(self) -> float:
        return self.supervisor + self.workers + self.detector


@dataclass
class Level:
    cameras: int
    samples: list[Sample]
    events: list[Received]
    restarts: int
    supervisor: int  # pid
    workers: dict[int, str]  # pid -> camera
    load: str  # load average at the end
    stages: dict[str, float] | None = None  # CPU seconds per stage (--profile)
    stacks: Path | None = None  # py-spy's collapsed stacks (--profile)

    @property
    def seconds(self) -> float:
        return self.samples[-1].at - self.samples[0].at

    def used_s(self) -> dict[int, float]:
        """CPU seconds of each process of the vigil tree over the level."""
        first, last = self.samples[0], self.samples[-1]
        return {pid: t - first.usage.cpu_s.get(pid, 0.0) for pid, t in last.usage.cpu_s.items()}

    def cpu(self) -> Cpu:
        first, last = self.samples[0], self.samples[-1]
        used = self.used_s()
        vigil = sum(used.values())
        supervisor = used.get(self.supervisor, 0.0)
        workers = sum(t for pid, t in used.items() if pid in self.workers)
        bench = last.bench_cpu_s - first.bench_cpu_s
        machine = last.machine_cpu_s - first.machine_cpu_s
        shares = (supervisor, workers, vigil - supervisor - workers, bench - vigil, machine - bench)
        return Cpu(*(100 * t / self.seconds for t in shares))

    def role(self, pid: int) -> str:
        if pid == self.supervisor:
            return "supervisor"
        if pid in self.workers:
            return f"worker {self.workers[pid]}"
        return self.samples[-1].usage.kind_by_pid.get(pid, "other")

    def processes(self) -> list[dict[str, Any]]:
        last = self.samples[-1].usage
        return [
            {
                "pid": pid,
                "role": self.role(pid),
                "cpu_percent": 100 * used / self.seconds,
                "rss_mb": last.rss_by_pid.get(pid, 0) / 2**20,
                "pss_mb": last.pss_by_pid.get(pid, 0) / 2**20,
            }
            for pid, used in sorted(self.used_s().items())
        ]

    def to_json(self) -> dict[str, Any]:
        cpu = self.cpu()
        latency = [1000 * e.latency for e in self.events]
        rss = self.samples[-1].usage.rss / 2**20
        pss = self.samples[-1].usage.pss / 2**20
        return {
            "cameras": self.cameras,
            "seconds": self.seconds,
            "passed": self.passed,
            "failures": self.failures,
            "cpu_percent": dataclasses.asdict(cpu) | {"vigil": cpu.vigil},
            "cpu_percent_per_camera": cpu.vigil / self.cameras,
            "workers_cpu_percent_per_camera": cpu.workers / self.cameras,
            "rss_mb": rss,
            "rss_mb_per_camera": rss / self.cameras,
            "pss_mb": pss,
            "pss_mb_per_camera": pss / self.cameras,
            "frames_input": self.delta("frames_input"),
            "frames_processed": self.delta("frames_processed"),
            "frames_expected": self.expected,
            "frames_dropped": self.delta("frames_dropped"),
            "detector_ms_p50": percentile(self.detector_ms, 50),
            "events": len(latency),
            "event_ms_p50": percentile(latency, 50),
            "event_ms_p99": percentile(latency, 99),
            "worker_restarts": self.restarts,
            "load_average": self.load,
            "processes": self.processes(),
            "stages_cpu_s": self.stages,
        }

    def delta(self, counter: str) -> float:
        return self.samples[-1].counters[counter] - self.samples[0].counters[counter]

    @property
    def expected(self) -> float:
        return self.cameras * DETECT_FPS * self.seconds

    @property
    def detector_ms(self) -> list[float]:
        return [ms for s in self.samples for ms in s.detector_ms]

    @property
    def failures(self) -> list[str]:
        """Why the level failed; empty when it passed."""
        checks = {
            "drops": self.delta("frames_dropped") > 0,
            "camera down": not all(s.up for s in self.samples),
            f"{self.restarts} worker restarts": self.restarts > 0,
            "behind": self.delta("frames_processed") < MIN_PROCESSED * self.expected,
        }
        return [why for why, failed in checks.items() if failed]

    @property
    def passed(self) -> bool:
        return not self.failures


def run_level(
    s: Stack, duration: float, interval: float, warmup: float, profile_rate: int = 0
) -> Level:
    """Sample the running stack for `duration` seconds once every camera is online; with a
    `profile_rate`, py-spy samples its stacks that many times a second meanwhile."""
    wait_online(s, timeout=max(120.0, 15.0 * len(s.cameras)))  # a loaded machine starts slowly
    time.sleep(warmup)
    samples = [sample(s)]
    profiler = None
    if profile_rate:
        # kept after the level, for a closer look (e.g. a flame graph)
        path = Path(tempfile.gettempdir()) / f"vigil-stacks-{len(s.cameras)}cams-{os.getpid()}.txt"
        profiler = StackProfile(s.service.process.pid, duration, path, profile_rate)
    end = samples[0].at + duration
    next_report = samples[0].at + 60
    while (now := time.time()) < end:
        time.sleep(min(interval, end - now))
        samples.append(sample(s))
        if next_report <= samples[-1].at < end:
            next_report += 60
            progress(len(s.cameras), samples)
    level = Level(
        cameras=len(s.cameras),
        samples=samples,
        events=s.events.between(samples[0].at, samples[-1].at),
        restarts=sum(s.service.worker_restarts().values()),
        supervisor=s.service.process.pid,
        workers=s.service.worker_pids(),
        load=load(),
    )
    if profiler is not None:
        level.stages = stage_cpu(profiler.samples(60), level.used_s(), level.supervisor)
        level.stacks = profiler.path
    return level


def progress(cameras: int, samples: list[Sample]) -> None:
    first, last = samples[0], samples[-1]
    dropped = last.counters["frames_dropped"] - first.counters["frames_dropped"]
    print(
        f"  [{cameras} cameras] {last.at - first.at:5.0f} s: RSS {last.usage.rss / 2**20:6.0f} MB,"
        f" PSS {last.usage.pss / 2**20:6.0f} MB,"
        f" dropped {dropped:.0f}, all up: {all(x.up for x in samples)}",
        file=sys.stderr,
        flush=True,
    )


# --------------------------------------------------------------------------- reports


HEADER = (
    f"{'cams':>4} {'CPU %':>6} {'in fps':>6} {'processed':>18} {'dropped':>7}"
    f" {'det ms p50/max':>14} {'rec lag':>7} {'events':>6} {'event ms p50/p99':>16}"
    f" {'in svc p99':>10} {'RSS MB':>6} {'PSS MB':>6}  result"
)


def row(level: Level) -> str:
    processed, expected = level.delta("frames_processed"), level.expected
    in_fps = level.delta("frames_input") / level.seconds / level.cameras
    det = level.detector_ms
    latency = [1000 * e.latency for e in level.events]
    in_service = [1000 * e.in_service for e in level.events]
    processed_text = f"{processed:.0f}/{expected:.0f} {processed / expected:4.0%}"
    det_text = f"{percentile(det, 50):.0f}/{max(det, default=float('nan')):.0f}"
    latency_text = f"{percentile(latency, 50):.0f}/{percentile(latency, 99):.0f}"
    result = "pass" if level.passed else "FAIL (" + ", ".join(level.failures) + ")"
    return (
        f"{level.cameras:>4} {level.cpu().vigil:6.0f} {in_fps:6.1f}"
        f" {processed_text:>18} {level.delta('frames_dropped'):7.0f} {det_text:>14}"
        f" {max(s.recording_lag for s in level.samples):6.1f}s {len(latency):6d}"
        f" {latency_text:>16} {percentile(in_service, 99):10.0f}"
        f" {level.samples[-1].usage.rss / 2**20:6.0f} {level.samples[-1].usage.pss / 2**20:6.0f}"
        f"  {result}"
    )


CPU_HEADER = (
    f"{'cams':>4} {'vigil':>6} {'supervisor':>10} {'workers':>8} {'per camera':>10}"
    f" {'detector':>8} {'harness':>8} {'others':>7}  load average"
)


def cpu_row(level: Level) -> str:
    cpu = level.cpu()
    return (
        f"{level.cameras:>4} {cpu.vigil:6.0f} {cpu.supervisor:10.0f} {cpu.workers:8.0f}"
        f" {cpu.workers / level.cameras:10.1f} {cpu.detector:8.0f} {cpu.harness:8.0f}"
        f" {cpu.others:7.0f}  {level.load}"
    )


def print_stages(level: Level) -> None:
    """Where the CPU went, per stage (--profile)."""
    if not level.stages:
        return
    total = sum(level.stages.values())
    print(
        f"\n{level.cameras} cameras: CPU per stage over {level.seconds:.0f} s (py-spy stacks in"
        f" {level.stacks}; each process's measured CPU time shared out by its busy samples)\n"
    )
    print(f"{'stage':<28} {'CPU s':>7} {'% core/camera':>13} {'share':>6}")
    for stage, seconds in sorted(level.stages.items(), key=lambda item: -item[1]):
        per_camera = 100 * seconds / level.seconds / level.cameras
        print(f"{stage:<28} {seconds:7.1f} {per_camera:13.2f} {seconds / total:6.1%}")


def print_processes(level: Level) -> None:
    """CPU and RSS of each process of the vigil tree at the end of the level."""
    print(f"\n{level.cameras} cameras: per process\n")
    print(f"{'pid':>7} {'role':<22} {'CPU %':>6} {'RSS MB':>7} {'PSS MB':>7}")
    for process in level.processes():
        print(
            f"{process['pid']:>7} {process['role']:<22} {process['cpu_percent']:6.1f}"
            f" {process['rss_mb']:7.0f} {process['pss_mb']:7.0f}"
        )


def print_density(levels: list[Level]) -> None:
    print(
        "\nCPU %: the vigil serve process tree, % of one core (this machine has"
        f" {os.cpu_count()}). in fps: frames decoded per camera per second;"
        " processed: detection frames vs cameras x 5 fps x seconds;"
        " det ms: per-camera detector latency (the median of each status interval);"
        " rec lag: worst recording lag; event ms: capture -> MQTT receipt;"
        " in svc: capture -> hand-over to the MQTT client; RSS MB: resident memory summed"
        " over the tree (a page shared by several processes counts in each); PSS MB: the"
        " same with each shared page split among the processes sharing it.\n"
    )
    print(HEADER)
    for level in levels:
        print(row(level))
    passing = [level.cameras for level in levels if level.passed]
    print(f"\nmost cameras passing: {max(passing, default=0)}")
    print(
        "\nCPU, % of one core: vigil serve's main process, its camera workers, the rest of its"
        " tree (detector service, fork server); harness: RTSP server, mosquitto, this script;"
        " others: the rest of the machine.\n"
    )
    print(CPU_HEADER)
    for level in levels:
        print(cpu_row(level))


DEFAULT_LEVELS = [1, 2, 4, 8, 12, 16, 24, 32]


def density(args: argparse.Namespace, clip: Path) -> None:
    levels: list[Level] = []
    for n in args.cameras or DEFAULT_LEVELS:
        print(f"{n} cameras, {args.duration:g} s, load average {load()}", file=sys.stderr)
        with (
            tempfile.TemporaryDirectory(prefix=f"vigil-density-{n}-") as tmp,
            stack(n, clip, Path(tmp)) as s,
        ):
            levels.append(run_level(s, args.duration, args.interval, args.warmup, args.profile))
        print(row(levels[-1]) + "\n" + cpu_row(levels[-1]), file=sys.stderr, flush=True)
        if not levels[-1].passed:
            break
    print_density(levels)
    for level in levels:
        print_processes(level)
        print_stages(level)
    write_json(args, {"mode": "density", "levels": [level.to_json() for level in levels]})


def write_json(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json is not None:
        report = {"machine": {"cpus": os.cpu_count(), "load_average": load()}, **report}
        args.json.write_text(json.dumps(report, indent=1, allow_nan=False, default=_no_nan))


def _no_nan(value: object) -> object:
    raise TypeError(f"not JSON: {value!r}")


CPU_FIGURES = ("vigil", "workers", "detector")


def compare(args: argparse.Namespace, clip: Path) -> None:
    """Each level with the baseline tree and with this one, back to back (the order rotating
    per round), and the CPU of each side by side: nobody watches any camera."""
    trees: dict[str, Path | None] = {"baseline": args.baseline_src, "this tree": None}
    runs: dict[tuple[int, str], list[Level]] = defaultdict(list)
    for n in args.cameras or [8]:
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                print(f"{n} cameras, {name}, load average {load()}", file=sys.stderr)
                try:
                    with (
                        tempfile.TemporaryDirectory(prefix=f"vigil-compare-{n}-") as tmp,
                        stack(n, clip, Path(tmp), trees[name]) as s,
                    ):
                        level = run_level(
                            s, args.duration, args.interval, args.warmup, args.profile
                        )
                except RuntimeError as exc:  # e.g. not online in time: the other runs go on
                    print(f"  {n} cameras, {name}: {str(exc).splitlines()[0]}", file=sys.stderr)
                    continue
                print(row(level) + "\n" + cpu_row(level), file=sys.stderr, flush=True)
                runs[(n, name)].append(level)
    print(
        f"\nbaseline: {args.baseline_src}; median of {args.rounds} rounds; CPU in % of one core,"
        " RSS and PSS of the whole tree; dropped: detection frames over the level"
    )
    print(
        f"{'cams':>4} {'tree':>10} {'vigil':>6} {'workers':>8} {'per cam':>8} {'detector':>9}"
        f" {'RSS MB':>7} {'MB/cam':>7} {'PSS/cam':>7} {'dropped':>8} {'others':>7}"
    )
    for (n, name), levels in sorted(runs.items(), key=lambda item: (item[0][0], item[0][1])):
        cpus = [level.cpu() for level in levels]
        median = {f: float(np.median([getattr(c, f) for c in cpus])) for f in CPU_FIGURES}
        rss = float(np.median([level.samples[-1].usage.rss for level in levels])) / 2**20
        pss = float(np.median([level.samples[-1].usage.pss for level in levels])) / 2**20
        dropped = float(np.median([level.delta("frames_dropped") for level in levels]))
        others = float(np.median([c.others for c in cpus]))
        print(
            f"{n:>4} {name:>10} {median['vigil']:6.0f} {median['workers']:8.0f}"
            f" {median['vigil'] / n:8.1f} {median['detector']:9.0f} {rss:7.0f}"
            f" {rss / n:7.0f} {pss / n:7.0f} {dropped:8.0f} {others:7.0f}"
        )
    for (_, name), levels in sorted(runs.items()):
        for level in levels:
            if level.stages:
                print(f"\n[{name}]", end="")
                print_stages(level)
    write_json(
        args,
        {
            "mode": "compare",
            "baseline_src": str(args.baseline_src),
            "runs": [
                {"tree": name, **level.to_json()}
                for (_, name), levels in sorted(runs.items())
                for level in levels
            ],
        },
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------- resilience


@dataclass
class Recovery:
    camera: str
    down_after: float  # seconds from the kill until the camera reports it is not online
    online_after: float  # seconds from the server's restart until the camera reports online
    gap: tuple[float, float] | None  # the recording gap around the outage, relative to the kill
    reconnects: float
    restarts: int


def resilience(args: argparse.Namespace, clip: Path) -> None:
    n = (args.cameras or [3])[0]
    print(f"resilience: {n} cameras, load average {load()}", file=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="vigil-resilience-") as tmp,
        stack(n, clip, Path(tmp)) as s,
    ):
        wait_online(s)
        time.sleep(20)
        killed = time.time()
        s.rtsp.kill()
        down = first_seen(s, lambda _, status: status["state"] != "online", killed + OUTAGE_S)
        time.sleep(max(0.0, killed + OUTAGE_S - time.time()))
        s.rtsp.start()
        restarted = time.time()
        frames = {c: camera_status(s, c)["frames_in"] for c in s.cameras}
        online = first_seen(
            s,
            lambda c, status: status["state"] == "online" and status["frames_in"] > frames[c],
            restarted + 60,
        )
        wait_segments_after(s, restarted)
        recoveries = [
            Recovery(
                camera,
                down[camera] - killed,
                online[camera] - restarted,
                outage_gap(s, camera, killed, restarted),
                s.service.api(f"cameras/{camera}")["totals"]["reconnects"],
                s.service.worker_restarts().get(camera, 0),
            )
            for camera in s.cameras
        ]
        code = s.service.stop()
        segments = check_segments(s.data / "recordings")
    print_resilience(recoveries, segments, code)


def camera_status(s: Stack, camera: str) -> dict[str, Any]:
    return s.service.api(f"cameras/{camera}")["status"]


def first_seen(
    s: Stack, condition: Callable[[str, dict[str, Any]], bool], until: float
) -> dict[str, float]:
    """Per camera, when its status first met `condition` (polled until `until`; NaN: never)."""
    seen: dict[str, float] = {}
    while len(seen) < len(s.cameras) and time.time() < until:
        for camera in set(s.cameras) - set(seen):
            if condition(camera, camera_status(s, camera)):
                seen[camera] = time.time()
        time.sleep(0.25)
    return {c: seen.get(c, math.nan) for c in s.cameras}


def wait_segments_after(s: Stack, since: float, timeout: float = 60.0) -> None:
    """Until every camera has a finished segment starting after `since` (the gap's far edge)."""
    deadline = time.time() + timeout
    pending = set(s.cameras)
    while pending and time.time() < deadline:
        pending = {c for c in pending if not segment_after(s, c, since)}
        time.sleep(1)


def segment_after(s: Stack, camera: str, since: float) -> bool:
    segments = recordings(s, camera, since - 60)["segments"]
    return any(segment["start_time"] >= since for segment in segments)


def recordings(s: Stack, camera: str, start: float) -> dict[str, Any]:
    return s.service.api(f"recordings?camera={camera}&start={start}&end={time.time()}")


def outage_gap(
    s: Stack, camera: str, killed: float, restarted: float
) -> tuple[float, float] | None:
    """The recording index's gap overlapping the outage, relative to the kill."""
    for gap in recordings(s, camera, killed - 60)["gaps"]:
        if gap["start"] <= restarted and gap["end"] >= killed:
            return gap["start"] - killed, gap["end"] - killed
    return None


@dataclass
class Segments:
    total: int = 0
    bad: list[str] = field(default_factory=list)  # "path: why"
    leftovers: list[str] = field(default_factory=list)  # files that are not finished segments


def check_segments(directory: Path) -> Segments:
    """Decode every frame of every segment with PyAV."""
    result = Segments()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix != ".mp4":
            result.leftovers.append(str(path))
            continue
        result.total += 1
        try:
            with av.open(str(path)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            if frames == 0:
                result.bad.append(f"{path}: no frames")
        except (av.error.FFmpegError, IndexError) as exc:
            result.bad.append(f"{path}: {exc}")
    return result


def print_resilience(recoveries: list[Recovery], segments: Segments, code: int) -> None:
    print(f"\nRTSP server killed at t=0 for {OUTAGE_S:g} s, restarted at t={OUTAGE_S:g}\n")
    print(
        f"{'camera':<8} {'down after kill':>15} {'online after restart':>20}"
        f" {'recording gap (t)':>20} {'reconnects':>10} {'worker restarts':>15}"
    )
    for r in recoveries:
        gap = "none" if r.gap is None else f"{r.gap[0]:+.1f} .. {r.gap[1]:+.1f} s"
        print(
            f"{r.camera:<8} {r.down_after:14.1f}s {r.online_after:19.1f}s {gap:>20}"
            f" {r.reconnects:10.0f} {r.restarts:15d}"
        )
    print(
        f"\nsegments: {segments.total} on disk, {len(segments.bad)} that PyAV cannot decode,"
        f" {len(segments.leftovers)} unfinished files; vigil serve exit code {code}"
    )
    for line in segments.bad + segments.leftovers:
        print(f"  {line}")
    recovered = all(
        r.gap is not None and r.restarts == 0 and not math.isnan(r.online_after) for r in recoveries
    )
    ok = recovered and code == 0 and not segments.bad and not segments.leftovers
    print(f"resilience: {'pass' if ok else 'FAIL'}")


# --------------------------------------------------------------------------- soak


def soak(args: argparse.Namespace, clip: Path) -> None:
    n = (args.cameras or [4])[0]
    print(f"soak: {n} cameras, {args.soak:g} min, load average {load()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="vigil-soak-") as tmp, stack(n, clip, Path(tmp)) as s:
        level = run_level(s, args.soak * 60, args.interval, args.warmup)
    print(HEADER + "\n" + row(level) + "\n\n" + CPU_HEADER + "\n" + cpu_row(level))
    start = level.samples[0].at
    mark = min(level.samples, key=lambda x: abs(x.at - start - args.soak_mark * 60))
    end = level.samples[-1]
    print(f"\n{'minute':>6} {'RSS MB':>7}")
    for x in level.samples[:: max(1, round(60 / args.interval))]:
        print(f"{(x.at - start) / 60:6.1f} {x.usage.rss / 2**20:7.0f}")
    growth = end.usage.rss / mark.usage.rss - 1
    print(
        f"\nRSS at minute {(mark.at - start) / 60:.1f}: {mark.usage.rss / 2**20:.0f} MB;"
        f" at minute {(end.at - start) / 60:.1f}: {end.usage.rss / 2**20:.0f} MB ({growth:+.1%});"
        f" {'pass' if abs(growth) <= 0.10 else 'FAIL'} (target: within 10 %)"
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cameras",
        type=lambda text: [int(x) for x in text.split(",")],
        help="camera counts to try (default 1,2,4,8,12,16,24,32); resilience (3) and soak (4): the first",
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds per level (the issue: 300)"
    )
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds online before a level counts"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between samples")
    parser.add_argument(
        "--resilience", action="store_true", help="kill the RTSP server for 10 s mid-run"
    )
    parser.add_argument(
        "--soak", type=float, metavar="MINUTES", help="one long run, watching memory"
    )
    parser.add_argument(
        "--soak-mark", type=float, default=5.0, metavar="MINUTES", help="RSS reference point"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        metavar="SRC",
        help="compare: run each level (default 8 cameras) with the tree whose src/ is SRC too",
    )
    parser.add_argument("--rounds", type=int, default=1, help="compare: rounds per level")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=20,
        default=0,
        metavar="HZ",
        help="density/compare: py-spy samples every level's stacks (default 20 per second)"
        " and prints the CPU per stage",
    )
    parser.add_argument(
        "--bframes",
        type=int,
        default=0,
        help="B-frames between the camera stream's reference frames (default 0, as most cameras)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench-cache"
    )
    args = parser.parse_args()
    if reason := unavailable_reason():
        raise SystemExit(f"RTSP test server unavailable: {reason}")
    clip = camera_clip(args.cache, args.bframes)
    if args.resilience:
        resilience(args, clip)
    elif args.soak:
        soak(args, clip)
    elif args.baseline_src:
        compare(args, clip)
    else:
        density(args, clip)


if __name__ == "__main__":
    main()
