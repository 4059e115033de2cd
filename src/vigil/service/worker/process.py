"""The camera worker process: its entry point and its pipe to the supervisor.

A pipe per worker, not one queue shared by all: a worker killed in the middle of a message
(a crash, or the supervisor's stall watchdog) would leave a shared queue's write lock held
and half a message in its pipe, wedging every other camera; a private pipe just ends, and
the supervisor drops what was cut short. Messages go out on a thread of their own
(`Outbox`), so that neither ingest nor analytics ever waits for the supervisor.

A worker outlives neither its supervisor nor the pipe to it: when the supervisor dies (even
by SIGKILL) the worker stops, finishing its open segment but keeping the journal, so that
the next start's `recover()` indexes it (a segment reported to a dead supervisor would be a
file nobody indexed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from vigil.service.messages import CameraStatus
from vigil.service.processes import watch_parent
from vigil.service.worker.camera import CameraWorker, WorkerSpec, error_line

FLUSH_S = 5.0  # at exit, time left to hand the last messages (segments, status) over
#: Exit code of a worker that could not run its camera (a missing file, storage it cannot
#: write, ...): its last status, "offline", says why in one line, and that is all there
#: is to log (the supervisor restarts it after its backoff, quietly).
EXIT_CAMERA_FAILED = 3

log = logging.getLogger("vigil.worker")


def run_worker(spec: WorkerSpec) -> None:
    """Process entry point."""
    spec = dataclasses.replace(spec, stop=threading.Event())
    # Safe in a handler: this process's main thread never waits on (locks) the event.
    signal.signal(signal.SIGTERM, lambda *_: spec.stop.set())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    worker: CameraWorker | None = None

    def orphaned() -> None:
        if worker is not None:
            worker.orphaned.set()
        spec.stop.set()

    outbox = Outbox(spec.messages, on_broken=orphaned)
    failed = False
    try:
        worker = CameraWorker(spec, outbox.put)
        watch_parent(lambda: _supervisor_gone(orphaned))
        worker.run()
    except Exception as err:  # bad input or a bug: one line on the camera's status
        failed = True
        log.debug("camera %s: worker failed", spec.camera_id, exc_info=True)
        now = time.time()
        status = CameraStatus(
            spec.camera_id, "offline", now, error=error_line(err), since=now, pid=os.getpid()
        )
        outbox.put(status)
    finally:
        outbox.close(FLUSH_S)
    if failed:
        sys.exit(EXIT_CAMERA_FAILED)


def _supervisor_gone(orphaned: Callable[[], None]) -> None:
    log.error("the supervisor is gone: stopping (the next start recovers the open segment)")
    orphaned()


class Outbox:
    """Messages to the supervisor, sent by a thread of their own over `connection`.

    `put` never blocks (the supervisor may be busy for a moment; the camera must not wait).
    Once the supervisor is gone (the pipe is broken), messages are dropped.
    """

    _END = object()

    def __init__(self, connection: Any, on_broken: Any = None):
        self.connection = connection
        self.on_broken = on_broken
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def put(self, message: object) -> None:
        self._queue.put(message)

    def close(self, timeout: float) -> None:
        """Send what is queued (for at most `timeout` seconds), then close the pipe."""
        self._queue.put(self._END)
        self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.connection.close()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is self._END:
                return
            try:
                self.connection.send(message)
            except (OSError, ValueError):  # the supervisor is gone: nobody to tell
                if self.on_broken is not None:
                    self.on_broken()
                return
            except Exception:  # a message that does not pickle: a bug, not a reason to stop
                log.exception("cannot send a %s to the supervisor", type(message).__name__)
