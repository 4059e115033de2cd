"""Named POSIX shared-memory segments with explicit ownership, and rings of image slots in them.

`multiprocessing.shared_memory.SharedMemory` (Python < 3.13) registers every segment it
creates *or attaches to* with the resource tracker, which then unlinks segments behind their
owners' backs or warns about "leaked" ones that were already unlinked. Vigil's processes know
who owns what, so segments here are never tracked: the creator unlinks, the peer that
notices the creator's death unlinks, and `sweep` removes what a dead process left behind.

Created segments have their pages reserved up front, so a /dev/shm too small for them is an
error when a camera connects, not a crash (SIGBUS) in the middle of a copy.

Closing is safe while numpy views of a segment are alive: the mapping then stays until the
last view is dropped (no dangling pointers, no `BufferError`).
"""

from __future__ import annotations

import _posixshmem
import contextlib
import mmap
import os
import threading
from collections.abc import Sequence

import numpy as np

#: Image offsets inside a segment are aligned to this many bytes (a cache line).
ALIGN = 64
#: Where Linux exposes POSIX shared memory; `sweep` looks there.
SHM_DIR = "/dev/shm"


def aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


class Segment:
    """One POSIX shared-memory segment, mapped read-write; `array` is a flat uint8 view."""

    def __init__(self, name: str, *, create: bool = False, size: int = 0):
        if create and size <= 0:
            raise ValueError(f"segment size must be positive, not {size}")
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        self.name = name
        fd = _posixshmem.shm_open("/" + name, flags, mode=0o600)
        try:
            if create:
                os.ftruncate(fd, size)
                # Reserve the pages now: a full /dev/shm (Docker gives 64 MiB) then fails
                # here, as an error, instead of as a SIGBUS at the first write that needs one.
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(fd, 0, size)
            self.size = os.fstat(fd).st_size
            self._mmap: mmap.mmap | None = mmap.mmap(fd, self.size)
        except BaseException:
            if create:
                unlink(name)
            raise
        finally:
            os.close(fd)
        self.array = np.frombuffer(self._mmap, np.uint8)

    def view(self, offset: int, shape: Sequence[int]) -> np.ndarray:
        """A uint8 array of `shape` at byte `offset` (no copy); raises if it does not fit."""
        if self._mmap is None:
            raise ValueError(f"segment {self.name} is closed")
        nbytes = int(np.prod(shape))
        if offset < 0 or offset + nbytes > self.size:
            raise ValueError(f"{shape} at offset {offset} overruns segment of {self.size} bytes")
        return self.array[offset : offset + nbytes].reshape(shape)

    def close(self) -> None:
        """Unmap now, or once the last numpy view is dropped."""
        mapping, self._mmap = self._mmap, None
        self.array = np.empty(0, np.uint8)
        if mapping is not None:
            with contextlib.suppress(BufferError):  # views alive: unmapped when they go
                mapping.close()

    def unlink(self) -> None:
        unlink(self.name)


def unlink(name: str) -> bool:
    """Remove a segment's name (mappings stay valid); False when it was gone or not ours."""
    try:
        _posixshmem.shm_unlink("/" + name)
    except (FileNotFoundError, PermissionError):
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(prefix: str, *, stale_pids: bool = False) -> list[str]:
    """Unlink every segment whose name starts with `prefix`; returns their names.

    With `stale_pids`, names are ``<prefix><pid>-...`` and only those of processes that no
    longer exist are removed (what a killed supervisor left behind).
    """
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return []
    removed = []
    for name in names:
        if not name.startswith(prefix):
            continue
        if stale_pids:
            pid = name[len(prefix) :].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)):
                continue
        if unlink(name):
            removed.append(name)
    return removed


class SlotRing:
    """`count` equal slots of `slot_bytes` in one segment, handed out to threads.

    `acquire(n)` takes n slots at once (all or none, so threads asking for several cannot
    deadlock each other) and `release` gives them back.
    """

    def __init__(self, count: int, slot_bytes: int):
        if count < 1:
            raise ValueError(f"a ring needs at least one slot, not {count}")
        self.count = count
        self.slot_bytes = aligned(slot_bytes)
        self._free = list(range(count))
        self._cond = threading.Condition()

    @property
    def nbytes(self) -> int:
        return self.count * self.slot_bytes

    @property
    def in_use(self) -> int:
        with self._cond:
            return self.count - len(self._free)

    def acquire(self, n: int, timeout: float) -> list[int] | None:
        """n free slot indexes, or None if they did not come free within `timeout` s."""
        if not 1 <= n <= self.count:
            raise ValueError(f"cannot take {n} of {self.count} slots")
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._free) >= n, timeout):
                return None
            taken, self._free = self._free[:n], self._free[n:]
            return taken

    def release(self, slots: Sequence[int]) -> None:
        with self._cond:
            self._free.extend(slots)
            self._cond.notify_all()

    def offset(self, slot: int) -> int:
        return slot * self.slot_bytes


def pack(sizes: Sequence[int], slot_bytes: int) -> list[tuple[int, int]]:
    """Place byte sizes one after another into slots: (slot number, offset in slot) each.

    An item that does not fit in what is left of a slot starts the next one; every size must
    fit in one slot.
    """
    placed = []
    slot, used = 0, 0
    for size in sizes:
        size = aligned(size)
        if size > slot_bytes:
            raise ValueError(f"{size} bytes do not fit a {slot_bytes}-byte slot")
        if used + size > slot_bytes:
            slot, used = slot + 1, 0
        placed.append((slot, used))
        used += size
    return placed
