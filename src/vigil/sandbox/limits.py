"""What a sandboxed app may consume, and how its host applies the kernel limits to itself."""

from __future__ import annotations

import os
import resource
from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits and supervision policy of one sandboxed app instance.

    The kernel enforces ``memory_mb`` (in a memory cgroup of the sandbox's own where the
    machine allows, counting tmpfs and memfd pages too: beyond it the kernel kills the
    sandbox; and as the address space: an allocation beyond it fails with MemoryError, which
    stops the app; no file may grow beyond it, nor its ``/tmp``), ``cpu_seconds`` (a backstop only: total CPU time of
    one sandbox process, SIGXCPU then SIGKILL one second later), ``max_open_files`` and
    ``max_processes`` (processes and threads of the sandbox's own user). The sandbox runs at
    ``nice`` (1-19) under SCHED_BATCH: an app never competes with the pipeline at equal
    priority, and waking it up with a frame does not preempt the thread that sent it (that
    preemption alone made sending a frame take milliseconds on a busy machine).

    The parent enforces the rest: a sandbox using more than ``cpu_percent`` % of one core
    over ``cpu_window_s`` seconds (measured from /proc, `vigil.sandbox.cpu`) is stopped, so a
    healthy app may run for ever; a frame not answered within ``frame_deadline_s`` means the
    app hangs; an app raising on ``max_consecutive_errors`` frames in a row, or emitting more
    than ``max_events_per_s`` events per second for ``flood_seconds`` seconds, is stopped.
    A stopped app restarts after ``backoff_initial_s``, doubling up to ``backoff_max_s``; a
    stop after ``max_restarts`` restarts within ``restart_window_s`` marks it failed for good.
    """

    memory_mb: int = 512
    cpu_percent: float = 50.0
    cpu_window_s: float = 10.0
    cpu_seconds: int = 86400
    max_open_files: int = 64
    max_processes: int = 16
    nice: int = 10
    frame_deadline_s: float = 2.0
    startup_timeout_s: float = 20.0
    finish_timeout_s: float = 2.0
    max_consecutive_errors: int = 5
    max_events_per_s: int = 200
    flood_seconds: int = 3
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_restarts: int = 5
    restart_window_s: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.nice <= 19:
            raise ValueError(f"sandbox limit nice must be within 1..19, got {self.nice!r}")
        for key, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"sandbox limit {key} must be positive, got {value!r}")

    def kernel_limits(self) -> dict[str, int]:
        """The limits the host applies to itself with setrlimit (sent in its init message)."""
        return {
            "memory_bytes": int(self.memory_mb) * MIB,
            "cpu_seconds": int(self.cpu_seconds),
            "max_open_files": int(self.max_open_files),
            "max_processes": int(self.max_processes),
            "nice": int(self.nice),
        }


def apply_kernel_limits(limits: dict[str, Any]) -> None:
    """setrlimit on the calling process (the sandbox host, before it imports the app).

    The CPU hard limit is one second above the soft one, so that an app ignoring SIGXCPU
    is killed anyway.
    """
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_bytes"]),) * 2)
    # a memfd or tmpfs file is memory that RLIMIT_AS does not count: bound each file
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["memory_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["max_open_files"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (int(limits["max_processes"]),) * 2)
    os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), limits["nice"]))
    # SCHED_BATCH: a frame arriving does not let the host preempt the pipeline thread that
    # sent it (no wake-up preemption); it still gets its fair share of CPU
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
