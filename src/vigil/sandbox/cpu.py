"""How much CPU a sandbox uses, measured from outside it (the app cannot fake it).

The sandbox is a process tree (bubblewrap, its init, the host and anything the host started);
its CPU time is the sum over the tree of each process's own time (all its threads) and the
time of the children it has already reaped, read from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass  # gone meanwhile
    return out


def _own_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # after "pid (comm) ": state is field 3; utime, stime, cutime, cstime are fields 14-17
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(f) for f in fields[11:15]) / _TICK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and its descendants."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _own_seconds(p)
        todo += _children(p)
    return total


class CpuRate:
    """The CPU use of a process tree over a sliding window, sampled by the caller's clock.

    ``sample(now)`` reads the tree's CPU time at most once per `every` seconds and returns
    the share of one core (1.0 = one core busy) used over the last `window` seconds, or None
    until a whole window has been observed.
    """

    def __init__(self, pid: int, window: float, every: float = 1.0):
        self.pid, self.window, self.every = pid, window, every
        self._samples: deque[tuple[float, float]] = deque()

    def sample(self, now: float) -> float | None:
        samples = self._samples
        if samples and now - samples[-1][0] < self.every:
            return None
        samples.append((now, tree_cpu_seconds(self.pid)))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        start, used = samples[0]
        if now - start < self.window:
            return None
        return (samples[-1][1] - used) / (now - start)
