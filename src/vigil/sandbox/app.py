"""`SandboxedApp`: a store app run in a sandboxed process of its own, as an `App`.

The pipeline calls it like any app, and it never holds the pipeline up: ``process()`` sends
the frame's tracked objects to the sandbox without waiting (a full socket drops the frame
for this app) and returns the events the sandbox has answered since the last call — so
events lag a frame or two behind, in order. Each call also checks the sandbox: one that
exited, stopped answering (``frame_deadline_s``), raised on ``max_consecutive_errors``
frames in a row, flooded events, broke the protocol or reached a resource limit is killed
and restarted after an exponential backoff; too many restarts within ``restart_window_s``
mark it failed (it then stays stopped). Each such stop is one log line and shows in
``status()``.

The sandbox starts on the first frame, not at construction: building an app to validate a
configuration starts nothing. Processes are started by one long-lived spawner thread
(`_Spawner`), so neither a slow start nor a restart ever runs on the pipeline's thread.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import queue
import select
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vigil.apps.base import App, FrameContext, Scene
from vigil.apps.manifest import AppManifest
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.sandbox import bwrap, cgroup, protocol, seccomp
from vigil.sandbox.cpu import CpuRate
from vigil.sandbox.host import EXIT_MEMORY
from vigil.sandbox.limits import SandboxLimits

log = logging.getLogger("vigil.sandbox")

PIXEL_SLOTS = 4  # frames of pixels in flight per pixel app; more pending frames are dropped
DRAIN_BUDGET_S = 0.002  # time one call may spend reading replies (the rest waits a frame)
STDERR_TAIL = 2048
SOCKET_BUFFER = 1024 * 1024

_warned_unsandboxed = False
_warned_no_cgroup = False


@dataclass
class _Child:
    """One sandbox: our end of its socket pair, and its process once the spawner started it."""

    sock: socket.socket
    started_at: float
    proc: subprocess.Popen[bytes] | None = None
    sandboxed: bool | None = None
    spawn_error: str | None = None
    spawn_fatal: bool = False  # the error will not go away by restarting
    cgroup: cgroup.MemoryCgroup | None = None
    discarded: bool = False
    ready_at: float | None = None
    pending: deque[tuple[int, float]] = field(default_factory=deque)  # (seq, sent at)
    end_seq: int | None = None
    ended: bool = False
    stderr_tail: bytes = b""
    cpu: CpuRate | None = None  # its CPU use over the last `cpu_window_s`, once it runs


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its process group (the host and anything it started)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill()


def _warn_once_unsandboxed(launcher: bwrap.Launcher) -> None:
    global _warned_unsandboxed
    if not launcher.sandboxed and not _warned_unsandboxed:
        _warned_unsandboxed = True
        log.warning(
            "SANDBOX UNAVAILABLE (%s): store apps run as plain processes with resource "
            "limits only, WITHOUT filesystem or network isolation (%s=allow)",
            launcher.reason, bwrap.UNSANDBOXED_ENV,
        )  # fmt: skip


def _memory_cgroup(limit_bytes: int) -> cgroup.MemoryCgroup | None:
    """A memory cgroup for a new sandbox, or None (said once in the log)."""
    global _warned_no_cgroup
    try:
        return cgroup.create(limit_bytes)
    except OSError as exc:
        if not _warned_no_cgroup:
            _warned_no_cgroup = True
            log.warning(
                "MEMORY CGROUPS UNAVAILABLE (%s): a store app's memory limit counts its "
                "address space only; its /tmp and /dev/shm are sized, no file may exceed "
                "the limit and memfd_create is refused",
                exc.strerror or exc,
            )  # fmt: skip
        return None


def _kill_all(
    procs: set[subprocess.Popen[bytes]],
    cgroups: dict[subprocess.Popen[bytes], cgroup.MemoryCgroup],
) -> None:
    """Kill every sandbox; remove their cgroups once the killed processes are gone."""
    for proc in list(procs):
        if proc.poll() is None:
            _kill(proc)
    for group in list(cgroups.values()):
        group.remove(wait_s=2.0)  # a killed sandbox is gone in milliseconds
    cgroups.clear()


class _Spawner:
    """The one thread of this process that starts sandboxes.

    Starting one (probing bubblewrap the first time, fork and exec) can take a while on a
    busy machine, so the pipeline's thread never does it. And one long-lived thread, not a
    thread per start: bubblewrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the
    *thread* that forked it ends, so that thread must live as long as the process.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-spawner", daemon=True
                )
                self._thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a failed start is reported by the app; never end this thread
                log.exception("starting a sandbox failed")


_spawner = _Spawner()


class SandboxedApp(App):
    """A store app in its own sandbox (see the module docstring and `vigil.sandbox.bwrap`):
    `manifest` says what it is, `site_dir` is the directory its entry point imports from
    (mounted read-only in the sandbox)."""

    def __init__(
        self,
        manifest: AppManifest,
        site_dir: Path,
        name: str,
        settings: Mapping[str, Any],
        scene: Scene,
        limits: SandboxLimits | None = None,
    ):
        # No super().__init__: the app's Settings model is never imported in this process;
        # the sandbox validates the settings with it.
        self.manifest = manifest
        self.site_dir = site_dir
        self.kind = self.manifest.id  # type: ignore[misc]
        self.name = name
        self.settings = dict(settings)  # type: ignore[assignment]
        self.scene = scene
        self.needs_pixels = self.manifest.needs_pixels  # type: ignore[misc]
        self.emits = tuple(self.manifest.events)  # type: ignore[misc]
        self.limits = limits or SandboxLimits()
        self._allowed_types = frozenset(self.manifest.events)
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._live: set[subprocess.Popen[bytes]] = set()
        self._cgroups: dict[subprocess.Popen[bytes], cgroup.MemoryCgroup] = {}
        self._finalizer = weakref.finalize(self, _kill_all, self._live, self._cgroups)
        self._state = "stopped"
        self._closed = False
        self._sandboxed: bool | None = None
        self._memory_cgroup: bool | None = None
        self._seq = 0
        self._source = ""
        self._restarts = 0
        self._stops: deque[float] = deque()
        self._backoff = self.limits.backoff_initial_s
        self._restart_at = 0.0
        self._last_error: str | None = None
        self._counters: dict[str, float] = {}
        self._errors = 0  # consecutive frames that raised
        self._window_start = 0.0
        self._window_count = 0
        self._flooded = 0  # consecutive seconds above max_events_per_s
        self._pixels: mmap.mmap | None = None
        self._pixels_fd: int | None = None
        self._slot_bytes = scene.width * scene.height * 3
        self._buffer = bytearray(protocol.MAX_REPLY)  # replies are read into it

    # -- App interface ------------------------------------------------------------------
    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        with self._lock:
            if self._closed or self._state == "failed":
                return []
            now = time.monotonic()
            self._source = ctx.source_id
            if self._child is None and now >= self._restart_at:
                self._start(now)
            child = self._child
            if child is None:
                return []
            events = self._drain(child, now)
            if self._child is child:
                self._send_frame(child, ctx, objects, now)
                events += self._check(child, now)
            return events

    def finish(self, ctx: FrameContext) -> list[Event]:
        """Ask the sandbox to end its long-lived events; wait at most ``finish_timeout_s``."""
        with self._lock:
            child = self._child
            if child is None:
                return []
            now = time.monotonic()
            events = self._drain(child, now)
            self._seq += 1
            child.end_seq = self._seq
            message = {"seq": self._seq, "ctx": protocol.context_json(ctx)}
            deadline = now + self.limits.finish_timeout_s
            try:
                child.sock.send(protocol.encode_json(protocol.END, message))
            except OSError:
                return events
            while self._child is child and not child.ended:
                left = deadline - time.monotonic()
                if left <= 0 or (child.proc is not None and child.proc.poll() is not None):
                    log.warning(
                        "app %r (%s) on %s: no end-of-stream answer within %.1f s",
                        self.name, self.kind, self._source or "?", self.limits.finish_timeout_s,
                    )  # fmt: skip
                    break
                select.select([child.sock], [], [], left)
                events += self._drain(child, time.monotonic())
            return events

    def counters(self) -> dict[str, float]:
        return dict(self._counters)

    def status(self) -> dict[str, Any]:
        """``state`` (running, restarting, failed, stopped), ``restarts``, ``last_error``
        (one line or None), ``version`` (of the installed app it runs) and ``sandboxed``
        (False: bubblewrap unavailable, the app runs with resource limits only; None: not
        started yet) and ``memory_cgroup`` (False: its memory limit is the address space,
        sized tmpfs and file size only, see `vigil.sandbox.cgroup`)."""
        return {
            "version": self.manifest.version,
            "state": self._state,
            "restarts": self._restarts,
            "last_error": self._last_error,
            "sandboxed": self._sandboxed,
            "memory_cgroup": self._memory_cgroup,
        }

    def close(self) -> None:
        """Kill the sandbox; the app stays stopped."""
        with self._lock:
            self._closed = True
            self._state = "stopped"
            if self._child is not None:
                self._discard(self._child)
            if self._pixels is not None:
                self._pixels.close()
                self._pixels = None
            if self._pixels_fd is not None:
                os.close(self._pixels_fd)
                self._pixels_fd = None
        self._finalizer()

    def __repr__(self) -> str:
        return f"SandboxedApp(name={self.name!r}, app={self.kind!r}, state={self._state!r})"

    # -- the child process --------------------------------------------------------------
    def _start(self, now: float) -> None:
        """Open the socket pair and queue the init message now; the spawner thread starts
        the process (frames sent meanwhile wait in the socket)."""
        self._reap()  # the cgroups of sandboxes that are gone by now
        parent, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end in (parent, child_end):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        parent.setblocking(False)
        pixels = self._pixel_fd()
        init = {
            "entry_point": self.manifest.entry_point,
            "name": self.name,
            "settings": self.settings,
            "scene": protocol.scene_json(self.scene),
            "site_dir": str(self.site_dir),
            "limits": self.limits.kernel_limits(),
            "pixels": None if pixels is None else {"fd": pixels, "slot_bytes": self._slot_bytes},
        }
        parent.send(protocol.encode_json(protocol.INIT, init))
        if self._restart_at > 0:
            self._restarts += 1
        child = _Child(parent, now)
        self._child = child
        self._state = "running"
        self._errors = 0
        self._flooded = 0
        _spawner.submit(lambda: self._spawn(child, child_end, pixels))

    def _spawn(self, child: _Child, child_end: socket.socket, pixels: int | None) -> None:
        """In the spawner thread: start the host for `child` under bubblewrap, in a memory
        cgroup of its own where the machine allows; bare only if the operator allows it."""
        launcher = bwrap.launcher()
        pass_fds = [child_end.fileno()] + ([] if pixels is None else [pixels])
        program = None
        try:
            if not launcher.sandboxed and not launcher.bare_allowed:
                child.spawn_error = (
                    f"not started: no sandbox here ({launcher.reason}); "
                    f"{bwrap.UNSANDBOXED_ENV}=allow runs store apps without isolation"
                )
                child.spawn_fatal = True
                return
            _warn_once_unsandboxed(launcher)
            limit = self.limits.memory_mb * 1024 * 1024
            child.cgroup = _memory_cgroup(limit)
            self._memory_cgroup = child.cgroup is not None
            env = bwrap.minimal_env()
            command = bwrap.host_command(child_end.fileno())
            if launcher.bwrap is not None:
                program = seccomp.program_fd(memfd=child.cgroup is not None)
                pass_fds.append(program)
                command = bwrap.bwrap_command(
                    launcher.bwrap,
                    command,
                    env=env,
                    ro_dirs=[str(self.site_dir)],
                    network=self.manifest.network,
                    uid=bwrap.next_sandbox_uid(),
                    seccomp_fd=program,
                    tmpfs_bytes=limit,
                )
            if child.cgroup is not None:
                command = child.cgroup.wrap(command)
            proc = subprocess.Popen(
                command,
                env=env,
                cwd="/tmp",
                pass_fds=pass_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # terminal signals are not the app's business
            )
        except OSError as exc:
            child.spawn_error = f"cannot start: {exc}"
            if child.cgroup is not None:
                child.cgroup.remove()
            return
        finally:
            child_end.close()
            for fd in (pixels, program):
                if fd is not None:
                    os.close(fd)
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)
        self._live.add(proc)
        if child.cgroup is not None:
            self._cgroups[proc] = child.cgroup
        self._sandboxed = child.sandboxed = launcher.sandboxed
        child.cpu = CpuRate(proc.pid, self.limits.cpu_window_s)
        child.proc = proc
        if child.discarded:  # stopped (or closed) while it was being started
            _kill(proc)

    def _pixel_fd(self) -> int | None:
        """A read-only descriptor of the pixel slots for a new sandbox (None: tracks only)."""
        if not self.needs_pixels:
            return None
        if self._pixels_fd is None:
            self._pixels_fd = os.memfd_create(f"vigil-pixels-{self.name}", os.MFD_CLOEXEC)
            os.ftruncate(self._pixels_fd, PIXEL_SLOTS * self._slot_bytes)
            self._pixels = mmap.mmap(self._pixels_fd, PIXEL_SLOTS * self._slot_bytes)
        # reopened read-only: the app may read the frames, not alter what others see
        return os.open(f"/proc/self/fd/{self._pixels_fd}", os.O_RDONLY)

    def _send_frame(
        self, child: _Child, ctx: FrameContext, objects: Detections, now: float
    ) -> None:
        slot = -1
        if self._pixels is not None:
            if len(child.pending) >= PIXEL_SLOTS:
                return  # every slot still in use: this pixel app skips the frame
            image = ctx.image
            if (
                isinstance(image, np.ndarray)
                and image.dtype == np.uint8
                and image.shape == (ctx.height, ctx.width, 3)
                and image.nbytes == self._slot_bytes
            ):
                slot = (self._seq + 1) % PIXEL_SLOTS
                view = np.frombuffer(self._pixels, np.uint8, image.size, slot * self._slot_bytes)
                view[:] = image.reshape(-1)
        self._seq += 1
        try:
            child.sock.send(protocol.encode_frame(self._seq, ctx, objects, slot))
        except (BlockingIOError, InterruptedError):
            return  # the sandbox is behind; the deadline check decides if it hangs
        except OSError:
            return  # it is gone; `_check` reports how
        child.pending.append((self._seq, now))

    def _drain(self, child: _Child, now: float) -> list[Event]:
        """Read the replies waiting on the socket (for at most `DRAIN_BUDGET_S`)."""
        events: list[Event] = []
        stop_at = time.monotonic() + DRAIN_BUDGET_S
        while self._child is child and time.monotonic() < stop_at:
            try:
                size, _, flags, _ = child.sock.recvmsg_into([self._buffer])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if not size:
                break  # the sandbox closed its end; `_check` sees the exit
            data = bytes(memoryview(self._buffer)[:size])  # one copy, not two
            try:
                if flags & socket.MSG_TRUNC:
                    raise protocol.ProtocolError(f"answer over {protocol.MAX_REPLY} bytes")
                reply = protocol.decode_reply(data)
                events += self._handle(child, reply, now)
            except protocol.ProtocolError as exc:
                self._stop(f"protocol violation: {exc}", now)
            except Exception as exc:  # whatever a reply makes fail is the app's doing
                self._stop(f"protocol violation: {type(exc).__name__}: {exc}", now)
        return events

    def _handle(self, child: _Child, reply: protocol.Reply, now: float) -> list[Event]:
        if reply.kind == protocol.READY:
            if child.ready_at is not None:  # it would postpone the hang deadline
                raise protocol.ProtocolError("ready twice")
            child.ready_at = now
            return []
        if reply.kind == protocol.INIT_ERROR:
            self._stop(f"failed to start: {reply.error}", now, permanent=True)
            return []
        if not child.pending and reply.seq != child.end_seq:
            raise protocol.ProtocolError(f"answer to frame {reply.seq} that was not sent")
        if reply.seq == child.end_seq:
            child.ended = True
            child.pending.clear()
        else:
            if reply.seq != child.pending[0][0]:
                raise protocol.ProtocolError(f"answer to frame {reply.seq} out of order")
            child.pending.popleft()
        if reply.counters is not None:
            self._counters = reply.counters
        admitted = reply.events[: self._admit(len(reply.events), now)]  # a flood is not parsed
        events, problems = protocol.parse_events(
            admitted, self.name, self._source, self._allowed_types
        )
        error = reply.error or (problems[0] if problems else None)
        self._errors = 0 if error is None else self._errors + 1
        if error is not None and self._errors >= self.limits.max_consecutive_errors:
            self._stop(f"raised on {self._errors} frames in a row: {error}", now)
        elif error is not None:
            self._last_error = error
        return events

    def _admit(self, n: int, now: float) -> int:
        """How many of `n` new events fit this second's budget (the rest are dropped)."""
        self._roll_window(now)
        allowed = max(0, self.limits.max_events_per_s - self._window_count)
        self._window_count += n
        return min(n, allowed)

    def _roll_window(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed < 1.0:
            return
        over = self._window_count > self.limits.max_events_per_s
        self._flooded = (self._flooded + 1 if over else 0) if elapsed < 2.0 else int(over)
        self._window_start, self._window_count = now, 0

    def _check(self, child: _Child, now: float) -> list[Event]:
        """Stop the sandbox if it exited, hangs or floods (errors are counted as they come).
        Returns the events an exited sandbox sent before it exited."""
        self._read_stderr(child)
        self._roll_window(now)
        limits = self.limits
        code = None if child.proc is None else child.proc.poll()
        last_words: list[Event] = []
        if child.spawn_error is not None:
            self._stop(child.spawn_error, now, permanent=child.spawn_fatal)
        elif code is not None:
            # What it sent before exiting may explain the exit (a settings error at start).
            last_words = self._drain(child, now)
            if self._child is child:
                self._stop(self._exit_reason(child, code), now)
        elif child.ready_at is None and now - child.started_at > limits.startup_timeout_s:
            self._stop(f"did not start within {limits.startup_timeout_s:g} s", now)
        elif child.ready_at is not None and child.pending:
            waited = now - max(child.pending[0][1], child.ready_at)
            if waited > limits.frame_deadline_s:
                self._stop(f"hung: no answer within {limits.frame_deadline_s:g} s", now)
        if self._child is child and self._flooded >= limits.flood_seconds:
            self._stop(
                f"flooded: over {limits.max_events_per_s} events/s for {self._flooded} s", now
            )
        rate = child.cpu.sample(now) if self._child is child and child.cpu else None
        if rate is not None and rate * 100 > limits.cpu_percent:
            self._stop(
                f"cpu limit: used {rate:.0%} of a CPU core over {limits.cpu_window_s:g} s "
                f"(limit {limits.cpu_percent:g}%)",
                now,
            )
        return last_words

    def _read_stderr(self, child: _Child) -> None:
        if child.proc is None or child.proc.stderr is None or child.proc.stderr.closed:
            return
        try:
            data = os.read(child.proc.stderr.fileno(), 65536)
        except (BlockingIOError, OSError):
            return
        child.stderr_tail = (child.stderr_tail + data)[-STDERR_TAIL:]

    def _exit_reason(self, child: _Child, code: int) -> str:
        self._read_stderr(child)
        # bubblewrap exits with 128 + N when the app was killed by signal N
        sig = -code if code < 0 else code - 128 if child.sandboxed and code > 128 else None
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and self._cpu_spent(child)):
            return f"CPU time backstop of {self.limits.cpu_seconds} s reached"
        if code == EXIT_MEMORY or (child.cgroup is not None and child.cgroup.oom_killed()):
            return f"memory limit of {self.limits.memory_mb} MiB reached"
        if sig is not None:
            return f"killed by {signal.Signals(sig).name}"
        lines = child.stderr_tail.decode(errors="replace").strip().splitlines()
        return f"exited with status {code}" + (f": {lines[-1]}" if lines else "")

    def _cpu_spent(self, child: _Child) -> bool:
        return time.monotonic() - child.started_at >= self.limits.cpu_seconds

    def _stop(self, reason: str, now: float, permanent: bool = False) -> None:
        """Kill the current sandbox; schedule a restart, or mark the app failed."""
        child = self._child
        if child is not None:
            if child.ready_at is not None and now - child.ready_at > self.limits.backoff_max_s:
                self._backoff = self.limits.backoff_initial_s  # it had been healthy a while
            self._discard(child)
        self._last_error = protocol.one_line(reason)
        self._stops.append(now)
        while self._stops and now - self._stops[0] > self.limits.restart_window_s:
            self._stops.popleft()
        if permanent or len(self._stops) > self.limits.max_restarts:
            self._state = "failed"
            log.error(
                "app %r (%s) on %s failed for good after %d restarts: %s",
                self.name, self.kind, self._source or "?", self._restarts, self._last_error,
            )  # fmt: skip
            return
        self._state = "restarting"
        self._restart_at = now + self._backoff
        log.warning(
            "app %r (%s) on %s stopped: %s; restarting in %.1f s",
            self.name, self.kind, self._source or "?", self._last_error, self._backoff,
        )  # fmt: skip
        self._backoff = min(self._backoff * 2, self.limits.backoff_max_s)

    def _reap(self) -> None:
        """Collect the exit status of killed sandboxes, without waiting for any."""
        # copies first: the spawner thread adds to both
        for proc in [p for p in list(self._live) if p.poll() is not None]:
            self._live.discard(proc)
        for proc, group in list(self._cgroups.items()):
            if proc.poll() is not None and group.remove():
                del self._cgroups[proc]

    def _discard(self, child: _Child) -> None:
        child.discarded = True
        proc = child.proc  # None while the spawner is still starting it: it kills it then
        if proc is not None:
            _kill(proc)
            if proc.stderr is not None:
                proc.stderr.close()
        child.sock.close()
        self._reap()
        if self._child is child:
            self._child = None
