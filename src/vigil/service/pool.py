"""The camera worker processes of a site: start, watch, restart, stop, tell.

One process per enabled camera (`vigil.service.worker`), each with two pipes of its own: its
messages to the supervisor (read by a thread of its own into the supervisor's inbox, so a
worker killed mid-message cannot wedge the others) and the supervisor's control messages to
it (`Reconfigure`, `LiveDemand`). A worker that dies, or is silent for `STALL_AFTER_S`, is
restarted after an exponential backoff; one asked to stop gets `STOP_GRACE_S` to finish its
segment, then is killed.

A worker starts its camera's restorable apps from their latest saved states: those its
predecessor sent (`AppStates`, read here before the successor starts) or, for the first
worker of a camera, those `restore(camera)` gives (the supervisor's database).

Thread-safe: the supervisor's loop, live site changes (from the API's threads) and live-view
demand (from the API) all call in; the workers dict is replaced, never mutated, so the
supervisor's writer can read it without the lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from vigil.config.site import CameraConfig, SiteConfig
from vigil.errors import one_line
from vigil.service.detector.messages import DetectorHandle
from vigil.service.messages import (
    AppStates,
    ControlMessage,
    LiveDemand,
    Reconfigure,
    WorkerMessage,
)
from vigil.service.processes import pipe, start_process, stop_processes
from vigil.service.worker.camera import APP_STATES_EVERY_S, WorkerSpec
from vigil.service.worker.process import EXIT_CAMERA_FAILED, run_worker

log = logging.getLogger("vigil.service")

STALL_AFTER_S = 30.0  # a worker silent this long is hung: it is killed and restarted
BACKOFF_S = (1.0, 60.0)
STOP_GRACE_S = 10.0
READER_DRAIN_S = 2.0  # a restarted worker's predecessor's last messages are read first

#: The saved states of a camera's restorable apps (app name -> state), by camera id.
RestoreStates = Callable[[str], Mapping[str, dict[str, Any]]]


@dataclass
class _Worker:
    camera: str
    process: BaseProcess | None = None
    reader: threading.Thread | None = None  # reads this worker's pipe into the inbox
    started_at: float = 0.0
    last_heard: float = 0.0
    restarts: int = 0
    not_before: float = 0.0  # backoff: no restart before this time
    backoff: float = BACKOFF_S[0]
    control: Any = None  # write end of the worker's control pipe
    retiring: bool = False  # asked to stop: its camera was removed, or its source changed
    removed: bool = False  # once stopped: dropped (camera removed), else started again
    stop_deadline: float = 0.0  # a retiring worker still running then is killed
    reported: bool = False  # it exited as its camera could not run: restarted quietly


class WorkerPool:
    """The workers of `site()`'s enabled cameras, reaching the detector through `detector()`;
    their messages go to `inbox`. A camera's first worker restores its apps from
    `restore(camera)` (none: nothing saved); its workers send their apps' states every
    `app_states_every_s` seconds while they change."""

    def __init__(
        self,
        site: Callable[[], SiteConfig],
        detector: Callable[[], DetectorHandle | None],
        inbox: queue.Queue[WorkerMessage],
        restore: RestoreStates | None = None,
        app_states_every_s: float = APP_STATES_EVERY_S,
    ):
        self._site = site
        self._detector = detector
        self._inbox = inbox
        self._restore = restore
        self._app_states_every_s = app_states_every_s
        # The latest `AppStates` of each camera's workers during this pool's life.
        self._app_states: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.workers: dict[str, _Worker] = {}
        self._generation = 0  # counts `Reconfigure`s; echoed in `Reconfigured`
        self._live_wanted: set[str] = set()  # cameras someone watches live
        self._unmasked_wanted: set[str] = set()  # ... someone entitled to them unmasked

    # -- what the supervisor asks ----------------------------------------------------------------

    def start(self, camera_id: str) -> None:
        """Run a worker for the camera (again, if it was being stopped as removed)."""
        with self._lock:
            worker = self.workers.get(camera_id)
            if worker is not None:
                worker.removed = False  # removed, and back before its worker had stopped
                return
            worker = _Worker(camera_id)
            self.workers = {**self.workers, camera_id: worker}
            self._spawn(worker)

    def stop(self, camera_id: str, removed: bool) -> None:
        """Ask the worker to stop (it finishes its segment); then it is dropped (`removed`)
        or started again with the site as it is then."""
        with self._lock:
            worker = self.workers.get(camera_id)
            if worker is None:
                return
            worker.retiring, worker.removed = True, removed
            worker.stop_deadline = time.time() + STOP_GRACE_S
            if worker.process is not None:
                worker.process.terminate()  # SIGTERM: it finishes its segment and exits

    def reconfigure(
        self, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> int | None:
        """Send the worker its camera's new scene (and the app types to build again); its
        generation, or None when it is not running (it reads the new configuration when it
        starts)."""
        with self._lock:
            worker = self.workers.get(camera.id)
            if worker is None or worker.process is None or worker.retiring:
                return None
            self._generation += 1
            if not self._tell(worker, Reconfigure(camera, self._generation, rebuild)):
                return None
            return self._generation

    def set_live_demand(self, camera_id: str, wanted: bool, unmasked: bool = False) -> None:
        """Someone watches the camera's live view (or no one does any more), among them
        someone entitled to it `unmasked` (`LiveDemand`); remembered for workers started
        later."""
        with self._lock:
            for cameras, on in ((self._live_wanted, wanted), (self._unmasked_wanted, unmasked)):
                if on:
                    cameras.add(camera_id)
                else:
                    cameras.discard(camera_id)
            worker = self.workers.get(camera_id)
            if worker is not None and worker.process is not None:
                self._tell(worker, LiveDemand(camera_id, wanted, wanted and unmasked))

    def heard(self, camera_id: str | None) -> None:
        """The camera's worker said something (a silent one is restarted)."""
        worker = self.workers.get(camera_id) if camera_id is not None else None
        if worker is not None:
            worker.last_heard = time.time()

    def reading(self) -> bool:
        """Whether any worker's pipe may still bring messages."""
        return any(w.reader is not None and w.reader.is_alive() for w in self.workers.values())

    def watch(self) -> None:
        """Restart workers that died or hung (after their backoff); finish stopping the
        retiring ones."""
        now = time.time()
        with self._lock:
            for worker in list(self.workers.values()):
                if worker.retiring:
                    self._retire(worker, now)
                elif worker.process is not None and worker.process.is_alive():
                    self._check_stall(worker, now)
                else:
                    self._after_exit(worker, now)

    def stop_all(self) -> None:
        """Stop every worker (SIGTERM: they finalise their open segments), killing those
        that do not stop within `STOP_GRACE_S`."""
        with self._lock:
            cameras = {w.process: w.camera for w in self.workers.values() if w.process}
        for process in stop_processes(cameras, STOP_GRACE_S):
            log.error("camera %s: worker did not stop in time: killed it", cameras[process])

    # -- internals -------------------------------------------------------------------------------

    def _tell(self, worker: _Worker, message: ControlMessage) -> bool:
        try:
            worker.control.send(message)
        except (OSError, ValueError, AttributeError):  # it just died: its restart catches up
            return False
        return True

    def _spawn(self, worker: _Worker) -> None:
        worker.retiring = False
        if worker.control is not None:
            worker.control.close()  # its reader, the previous worker, is gone
        receive, send = pipe()
        control_receive, worker.control = pipe()
        spec = WorkerSpec(
            worker.camera,
            self._site(),
            send,
            detector=self._detector(),
            control=control_receive,
            restore=self._states_to_restore(worker),
            app_states_every_s=self._app_states_every_s,
        )
        try:
            worker.process = start_process(run_worker, (spec,), f"vigil-{worker.camera}")
        finally:
            send.close()  # the worker holds the only write end: its exit ends the pipe
            control_receive.close()
        if worker.camera in self._live_wanted:  # waits in the pipe until the worker reads
            unmasked = worker.camera in self._unmasked_wanted
            self._tell(worker, LiveDemand(worker.camera, True, unmasked))
        worker.reader = threading.Thread(
            target=self._read,
            args=(worker.camera, receive),
            name=f"read-{worker.camera}",
            daemon=True,
        )
        worker.reader.start()
        worker.started_at = worker.last_heard = time.time()
        log.log(
            logging.DEBUG if worker.reported else logging.INFO,
            "camera %s: worker started (pid %s)",
            worker.camera,
            worker.process.pid,
        )
        worker.reported = False

    def _states_to_restore(self, worker: _Worker) -> dict[str, dict[str, Any]]:
        """The states the camera's next worker starts its apps from: the latest its
        predecessor sent (once all it sent is read), else the saved ones."""
        if worker.reader is not None:
            worker.reader.join(READER_DRAIN_S)
        states = self._app_states.get(worker.camera)
        if states is not None or self._restore is None:
            return dict(states or {})
        try:
            return dict(self._restore(worker.camera))
        except Exception as err:  # the apps start afresh rather than the camera not at all
            log.error(
                "camera %s: saved app states not read, the apps start afresh: %s",
                worker.camera,
                one_line(err),
            )
            return {}

    def _read(self, camera: str, connection: Any) -> None:
        """Move one worker's messages to the inbox until its pipe ends (the worker exited)."""
        try:
            while True:
                message = connection.recv()
                if isinstance(message, AppStates):
                    self._app_states[camera] = message.states
                self._inbox.put(message)
        except EOFError:
            pass  # the worker exited between messages
        except Exception as err:  # cut short by a killed worker, or garbage: the pipe is done
            log.warning("camera %s: the worker's last message was lost (%s)", camera, err)
        finally:
            connection.close()

    def _check_stall(self, worker: _Worker, now: float) -> None:
        assert worker.process is not None
        if now - worker.last_heard < STALL_AFTER_S:
            if now - worker.started_at > BACKOFF_S[1]:
                worker.backoff = BACKOFF_S[0]  # it ran well for a while
            return
        log.error(
            "camera %s: worker silent for %.0f s: killing it",
            worker.camera,
            now - worker.last_heard,
        )
        worker.process.kill()
        worker.process.join(timeout=2.0)
        self._after_exit(worker, now, said=True)

    def _after_exit(self, worker: _Worker, now: float, said: bool = False) -> None:
        """A worker that is not running: say how it ended (unless `said`), restart it after
        its backoff."""
        process = worker.process
        if process is not None:
            # A camera that could not run was reported by its last status.
            worker.reported = process.exitcode == EXIT_CAMERA_FAILED
            if not worker.reported and not said:
                log.error("camera %s: worker exited (code %s)", worker.camera, process.exitcode)
            worker.process = None
            worker.not_before = now + worker.backoff
            if not worker.reported:
                log.info("camera %s: restart in %.0f s", worker.camera, worker.backoff)
            worker.backoff = min(worker.backoff * 2, BACKOFF_S[1])
        if now >= worker.not_before:
            worker.restarts += 1
            self._spawn(worker)

    def _retire(self, worker: _Worker, now: float) -> None:
        process = worker.process
        if process is not None and process.is_alive():
            if now < worker.stop_deadline:
                return
            log.error("camera %s: worker did not stop in time: killing it", worker.camera)
            process.kill()
            process.join(timeout=2.0)
        worker.process = None
        if worker.removed:
            self.workers = {k: w for k, w in self.workers.items() if k != worker.camera}
            # Should the camera come back (on a cluster node: after running elsewhere), its
            # first worker restores what was saved last, wherever that was.
            self._app_states.pop(worker.camera, None)
            log.info("camera %s: worker stopped (camera removed or disabled)", worker.camera)
        else:
            log.info("camera %s: worker restarted with its new settings", worker.camera)
            self._spawn(worker)
