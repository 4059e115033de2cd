"""What the System page reads about the machine: CPU and memory per process group, the
storage disk and how many days of recording it still holds, and plain checks (ok / warning,
with what to do) over those and the cameras' analysis latency.

Process groups are found in this process's tree with psutil: this process (the API and the
supervisor) with the fork server that starts the others, the detector (named
``vigil-detector`` by `vigil.service.processes`), each camera's worker (the pid its
`CameraStatus` names) and, below a worker, its sandboxed apps. CPU percentages are per core
(200 % is two cores busy) over the time since the previous sample, as ``top`` shows them;
memory is each process's share of resident memory (PSS).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import psutil

from vigil.api.state import ServiceState

DETECTOR_NAME = "vigil-detector"
FIRST_SAMPLE_S = 0.3  # the CPU of a process seen for the first time is measured over this
WRITE_RATE_WINDOW_S = 3600.0  # the recording write rate is over the last hour
#: Plain thresholds of the System page's checks.
CPU_WARNING = 0.85  # of every core of the machine
MEMORY_WARNING = 0.90  # of the machine's memory in use
DISK_DAYS_WARNING = 7.0
LATENCY_WARNING_MS = 500.0

Level = Literal["ok", "warning"]


@dataclass
class ProcessGroup:
    name: str
    kind: Literal["service", "detector", "camera", "apps", "other"]
    camera: str | None = None
    pids: list[int] = field(default_factory=list)
    cpu_percent: float = 0.0
    memory_bytes: int = 0


@dataclass
class Check:
    key: str
    title: str
    value: str
    level: Level
    advice: str | None = None  # what to do, one line, when it is a warning


class ProcessSampler:
    """Samples this process tree; keeps each `psutil.Process` between samples so that CPU
    percentages cover the time since the previous sample (processes seen for the first time
    are measured over `FIRST_SAMPLE_S`)."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()

    def groups(self, camera_pids: dict[int, str], cameras: Iterable[str]) -> list[ProcessGroup]:
        """This process and its descendants in groups; `camera_pids`: worker pid -> camera,
        as the workers reported (on a cluster, some on other machines: a child here is a
        camera's worker only if its process name says so too; one that has not reported yet
        is known by its name alone, unless two cameras' names are cut to the same one)."""
        by_name: dict[str, list[str]] = {}
        for camera_id in cameras:
            by_name.setdefault(worker_name(camera_id), []).append(camera_id)
        names = {name: found[0] for name, found in by_name.items() if len(found) == 1}
        with self._lock:
            main = psutil.Process(os.getpid())
            members: list[tuple[ProcessGroup, psutil.Process]] = []
            service = ProcessGroup("Service (API, supervisor)", "service")
            out = [service]
            members.append((service, main))
            workers: list[tuple[str, ProcessGroup, ProcessGroup]] = []
            children = _children(main)
            for starter in [c for c in children if _is_fork_server(c)]:
                members.append((service, starter))
                children.remove(starter)
                children.extend(_children(starter))
            for child in children:
                name = _name(child)
                camera = camera_pids.get(child.pid)
                if camera is None or worker_name(camera) != name:
                    camera = names.get(name)
                if camera is not None:
                    group = ProcessGroup(f"Camera {camera}", "camera", camera)
                    apps = ProcessGroup(f"Sandboxed apps of {camera}", "apps", camera)
                    workers.append((camera, group, apps))
                    members.append((group, child))
                    members.extend((apps, app) for app in _descendants(child))
                    continue
                group = _child_group(child)
                out.append(group)
                members.extend((group, p) for p in (child, *_descendants(child)))
            for _, group, apps in sorted(workers, key=lambda c: c[0]):
                out.append(group)
                out.append(apps)
            self._measure(members)
            return [g for g in out if g.pids]

    def _measure(self, members: list[tuple[ProcessGroup, psutil.Process]]) -> None:
        known, fresh = {}, False
        for _, process in members:
            sampled = self._known.get(process.pid)
            if sampled is None:
                sampled, fresh = process, True
                with contextlib.suppress(psutil.Error):
                    sampled.cpu_percent(None)  # the baseline of its first sample
            known[process.pid] = sampled
        if fresh:
            time.sleep(FIRST_SAMPLE_S)
        self._known = known
        for group, process in members:
            try:
                sampled = known[process.pid]
                cpu = sampled.cpu_percent(None)
                memory = _resident(sampled)
            except psutil.Error:  # ended between the listing and the sample
                continue
            group.pids.append(process.pid)
            group.cpu_percent += cpu
            group.memory_bytes += memory


def _resident(process: psutil.Process) -> int:
    """The process's share of resident memory (PSS: a page shared by n processes counts
    1/n; the service's children share the fork server's libraries), else its RSS."""
    try:
        return int(process.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):  # not ours to read, or not Linux
        return int(process.memory_info().rss)


def worker_name(camera: str) -> str:
    """The process name of the camera's worker (`vigil.service.pool` names it)."""
    return f"vigil-{camera}"[:15]


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return str(process.pid)


def _is_fork_server(process: psutil.Process) -> bool:
    """Whether `process` is multiprocessing's fork server: the parent of the service's other
    processes, part of the service itself."""
    try:
        return "multiprocessing.forkserver" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _child_group(child: psutil.Process) -> ProcessGroup:
    """The detector, or another child process named by what it runs."""
    name = _name(child)
    try:
        command = " ".join(child.cmdline())
    except psutil.Error:
        command = ""
    if name == DETECTOR_NAME:
        return ProcessGroup("Detector", "detector")
    if "multiprocessing.resource_tracker" in command:
        name = "Python's resource tracker"
    return ProcessGroup(f"Other: {name}", "other")


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children()
    except psutil.Error:
        return []


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


@dataclass
class DiskForecast:
    path: str
    total_bytes: int
    free_bytes: int
    write_bytes_per_day: float  # recordings written over the last hour, per day
    days_left: float | None  # None: nothing is being recorded


def disk_forecast(state: ServiceState, now: float) -> DiskForecast | None:
    """The storage disk's free space and the days of recording it holds at the current
    write rate (None when the folder cannot be read)."""
    try:
        usage = shutil.disk_usage(state.storage)
    except OSError:
        return None
    written, span = 0, 0.0
    index = state.index
    if index is not None:
        start = now - WRITE_RATE_WINDOW_S
        for camera in state.cameras:
            segments = index.between(camera, start, now)
            written += sum(int(s.size_bytes) for s in segments)
            if segments:
                span = max(span, now - max(start, min(s.start_time for s in segments)))
    per_day = written / span * 86400 if span > 0 else 0.0
    days = usage.free / per_day if per_day > 0 else None
    return DiskForecast(str(state.storage), usage.total, usage.free, per_day, days)


#: What to do when a check warns, one line each.
ADVICE = {
    "cpu": "Lower detect_fps on the busiest cameras, or run some cameras on another node.",
    "memory": "Stop other programs on this machine, or add memory: each camera worker needs "
    "its own share.",
    "disk": "Free space on the storage disk, keep recordings fewer days, or record on events only.",
    "unreadable": "Check that the storage directory exists and the service may write to it.",
    "latency": "The detector cannot keep up: lower detect_fps, use a smaller detector input, "
    "or fewer cameras per machine.",
    "cameras": "Each camera's tile on the Live page says why it is down and since when.",
}


def _check(key: str, title: str, value: str, warning: bool, advice: str = "") -> Check:
    level: Level = "warning" if warning else "ok"
    return Check(key, title, value, level, ADVICE[advice or key] if warning else None)


def checks(
    groups: Iterable[ProcessGroup],
    disk: DiskForecast | None,
    disk_pressure: bool,
    latencies_ms: dict[str, float],
    down: list[str],
) -> list[Check]:
    """The System page's verdicts, each ok or warning with what to do."""
    cores = psutil.cpu_count() or 1
    cpu = sum(g.cpu_percent for g in groups) / (100 * cores)
    memory = psutil.virtual_memory()
    used = 1 - memory.available / memory.total
    out = [
        _check("cpu", "CPU", f"{cpu:.0%} of {cores} cores", cpu >= CPU_WARNING),
        _check("memory", "Memory", f"{used:.0%} in use", used >= MEMORY_WARNING),
    ]
    if disk is None:
        out.append(_check("disk", "Disk", "storage folder unreadable", True, "unreadable"))
    elif disk.days_left is None:
        out.append(_check("disk", "Disk", "not recording", disk_pressure))
    else:
        days = f"{disk.days_left:.1f} days of recording left"
        out.append(
            _check("disk", "Disk", days, disk_pressure or disk.days_left < DISK_DAYS_WARNING)
        )
    worst = max(latencies_ms.values(), default=0.0)
    latency = f"{worst:.0f} ms (slowest camera)" if latencies_ms else "no camera analysing"
    out.append(_check("latency", "Analysis latency", latency, worst >= LATENCY_WARNING_MS))
    cameras = f"{len(down)} down: {', '.join(down)}" if down else "all up"
    out.append(_check("cameras", "Cameras", cameras, bool(down)))
    return out
