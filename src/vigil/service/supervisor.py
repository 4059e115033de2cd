"""The supervisor: starts and watches every process of a site, and is its single writer.

Layout (after Frigate): one worker process per camera (ingest, recording, analytics), one
shared detector process that batches inference across cameras, and this process, which
- receives every worker message (each worker has a pipe of its own, read by a thread of
  its own, so a worker killed mid-message cannot wedge the others), writes events and
  segments to the database, and fans messages out to the API (WebSocket, live view), MQTT
  and metrics;
- restarts a worker that died or stopped reporting, with exponential backoff, and the
  detector process likewise;
- applies the recording retention policy once a minute;
- serves the HTTP API with uvicorn (127.0.0.1 unless configured otherwise).
A crash or a hung decoder in one camera never takes down the others.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from vigil.apps.base import Scene
from vigil.detection.classes import COCO_CLASSES
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.events.store import EventStore
from vigil.pipeline.build import build_apps
from vigil.recording.index import SegmentIndex
from vigil.recording.retention import CameraRetention, RetentionPolicy, store_events
from vigil.recording.segmenter import recover
from vigil.service.api import create_app
from vigil.service.config import SiteConfig
from vigil.service.detector_service import DetectorService
from vigil.service.hub import Hub
from vigil.service.messages import CameraStatus, EventMessage, SegmentInfo
from vigil.service.mqtt import MqttPublisher
from vigil.service.state import ServiceState
from vigil.service.worker import WorkerSpec, run_worker

log = logging.getLogger("vigil.service")

STALL_AFTER_S = 30.0  # a worker silent this long is hung: it is killed and restarted
BACKOFF_S = (1.0, 60.0)
RETENTION_EVERY_S = 60.0
STOP_GRACE_S = 10.0
REPEAT_WARNING_S = 60.0  # a camera still down with the same error is logged this often


def validate_site(site: SiteConfig) -> None:
    """Build every camera's apps against a placeholder scene, so a bad app type, setting or
    zone name is reported (with its `cameras[i]` key path) before anything starts."""
    for i, camera in enumerate(site.cameras):
        zones = [z.to_zone(name) for name, z in camera.zones.items()]
        lines = [ln.to_line(name) for name, ln in camera.lines.items()]
        scene = Scene.build(1000, 1000, zones, lines, COCO_CLASSES)
        build_apps(camera, scene, site, scope=("cameras", i))


@dataclass
class _Worker:
    camera: str
    process: mp.process.BaseProcess | None = None
    stop: object | None = None
    reader: threading.Thread | None = None  # reads this worker's pipe into the inbox
    started_at: float = 0.0
    last_heard: float = 0.0
    restarts: int = 0
    not_before: float = 0.0  # backoff: no restart before this time
    backoff: float = BACKOFF_S[0]


@dataclass
class Supervisor:
    site: SiteConfig
    hub: Hub = field(default_factory=Hub)

    def __post_init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._inbox: queue.Queue[object] = queue.Queue()  # every worker's messages
        self._workers = {c.id: _Worker(c.id) for c in self.site.cameras if c.enabled}
        self._stopping = threading.Event()
        self.url: str | None = None
        self._down: dict[str, tuple[str, float, float]] = {}  # camera -> (error, since, logged)
        self._failures: dict[str, float] = {}  # what the pump failed at -> last logged

    # -- life cycle ----------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_ready=None) -> None:
        """Run the site until `stop` is set; `on_ready(url)` once the API is listening."""
        storage = self.site.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        events = EventStore(self.site.storage.database_url())
        index = SegmentIndex(events)
        for info in recover(storage / "recordings", report=index.add):
            log.info("recovered an unfinished segment after a crash: %s", info.path)
        detector = DetectorService(
            self.site.detector,
            max_batch=self.site.detector_service.max_batch,
            max_wait_ms=self.site.detector_service.max_wait_ms,
        )
        state: ServiceState | None = None
        pump: threading.Thread | None = None
        mqtt: MqttPublisher | None = None
        server: uvicorn.Server | None = None
        # Whatever fails on the way up (a bad model, the port in use) stops what was already
        # started: the pump thread in particular would otherwise keep the process alive.
        try:
            detector.start()
            log.info("detector started (pid %s)", detector.pid)
            state = ServiceState.from_site(self.site, events, hub=self.hub, index=index)
            pump = threading.Thread(target=self._pump, args=(state, events, index), name="pump")
            pump.start()
            mqtt = self._start_mqtt()
            server = self._start_api(state)
            retention = threading.Thread(
                target=self._retention_loop, args=(index, events), name="retention", daemon=True
            )
            retention.start()
            for worker in self._workers.values():
                self._spawn(worker, detector)
            if on_ready is not None:
                on_ready(self.url)
            while not stop.wait(0.5):
                self._watch(detector)
        finally:
            self._stopping.set()
            self._stop_workers()
            detector.stop()
            if state is not None:
                state.close()
            if server is not None:
                server.should_exit = True
            if pump is not None:
                pump.join(timeout=5.0)
            if mqtt is not None:
                mqtt.stop()
            events.close()

    def _spawn(self, worker: _Worker, detector: DetectorService) -> None:
        worker.stop = self._ctx.Event()
        receive, send = self._ctx.Pipe(duplex=False)
        spec = WorkerSpec(worker.camera, self.site, send, worker.stop, detector.handle)
        worker.process = self._ctx.Process(
            target=run_worker, args=(spec,), name=f"vigil-{worker.camera}", daemon=True
        )
        try:
            worker.process.start()
        finally:
            send.close()  # the worker holds the only write end: its exit ends the pipe
        worker.reader = threading.Thread(
            target=self._read,
            args=(worker.camera, receive),
            name=f"read-{worker.camera}",
            daemon=True,
        )
        worker.reader.start()
        worker.started_at = worker.last_heard = time.time()
        log.info("camera %s: worker started (pid %s)", worker.camera, worker.process.pid)

    def _read(self, camera: str, connection) -> None:
        """Move one worker's messages to the inbox until its pipe ends (the worker exited)."""
        try:
            while True:
                self._inbox.put(connection.recv())
        except EOFError:
            pass  # the worker exited between messages
        except Exception as err:  # cut short by a killed worker, or garbage: the pipe is done
            log.warning("camera %s: the worker's last message was lost (%s)", camera, err)
        finally:
            connection.close()

    def _watch(self, detector: DetectorService) -> None:
        now = time.time()
        if not detector.alive:
            log.error("detector process died (exit %s): restarting it", detector.exitcode)
            detector.start()
            log.info("detector started (pid %s)", detector.pid)
        for worker in self._workers.values():
            process = worker.process
            if process is not None and process.is_alive():
                if now - worker.last_heard < STALL_AFTER_S:
                    if now - worker.started_at > BACKOFF_S[1]:
                        worker.backoff = BACKOFF_S[0]  # it ran well for a while
                    continue
                log.error(
                    "camera %s: worker silent for %.0f s: killing it",
                    worker.camera,
                    now - worker.last_heard,
                )
                process.kill()
                process.join(timeout=2.0)
            elif process is not None:
                log.error("camera %s: worker exited (code %s)", worker.camera, process.exitcode)
            if process is not None:
                worker.process = None
                worker.not_before = now + worker.backoff
                log.info("camera %s: restart in %.0f s", worker.camera, worker.backoff)
                worker.backoff = min(worker.backoff * 2, BACKOFF_S[1])
            if worker.process is None and now >= worker.not_before:
                worker.restarts += 1
                self._spawn(worker, detector)

    def _stop_workers(self) -> None:
        for worker in self._workers.values():
            if worker.stop is not None:
                worker.stop.set()  # workers finalise their open segments and exit
        deadline = time.time() + STOP_GRACE_S
        for worker in self._workers.values():
            if worker.process is not None:
                worker.process.join(timeout=max(0.1, deadline - time.time()))
                if worker.process.is_alive():
                    log.error("camera %s: worker did not stop in time: killing it", worker.camera)
                    worker.process.kill()

    # -- the single writer ---------------------------------------------------------------------

    def _pump(self, state: ServiceState, events: EventStore, index: SegmentIndex) -> None:
        """Route worker messages until the workers are stopped and the queue is drained."""
        while True:
            try:
                message = self._inbox.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set() and not any(
                    w.reader is not None and w.reader.is_alive() for w in self._workers.values()
                ):
                    return  # every worker is gone and all they said has been handled
                continue
            batch = [message]
            while len(batch) < 100:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            stored: list[Event] = []
            for message in batch:
                camera = getattr(message, "camera", None) or getattr(
                    getattr(message, "event", None), "source", None
                )
                if camera in self._workers:
                    self._workers[camera].last_heard = time.time()
                try:
                    if isinstance(message, EventMessage):
                        stored.append(message.event)
                    elif isinstance(message, SegmentInfo):
                        index.add(message)
                    elif isinstance(message, CameraStatus):
                        self._log_status(message)
                    state.apply(message)
                    self.hub.publish(message)
                except Exception:  # the single writer must outlive one bad message or write
                    self._log_failure(f"handling a {type(message).__name__}")
            if stored:
                try:
                    events.add(stored)
                except Exception:
                    self._log_failure(f"storing {len(stored)} events")

    def _log_status(self, status: CameraStatus) -> None:
        """Say when a camera goes down (and, once a minute, that it still is, when the
        error is the same) and when it is back; not every status of a camera that is down."""
        now = time.time()
        down = self._down.get(status.camera)
        if status.state in ("reconnecting", "offline") and status.error:
            if down is None or down[0] != status.error or now - down[2] >= REPEAT_WARNING_S:
                since = now if down is None else down[1]
                log.warning("camera %s: %s: %s", status.camera, status.state, status.error)
                self._down[status.camera] = (status.error, since, now)
        elif status.state == "online" and down is not None:
            del self._down[status.camera]
            log.info("camera %s: online again after %.0f s", status.camera, now - down[1])

    def _log_failure(self, what: str) -> None:
        now = time.time()
        if now - self._failures.get(what, -1e9) >= REPEAT_WARNING_S:
            self._failures[what] = now
            log.exception("%s failed", what)

    # -- services --------------------------------------------------------------------------------

    def _retention_loop(self, index: SegmentIndex, events: EventStore) -> None:
        policy = RetentionPolicy(
            cameras={
                c.id: CameraRetention(
                    mode=c.record.mode,
                    retain_days=c.record.retain_days,
                    motion_days=c.record.retain_days,
                    event_days=c.record.event_retain_days,
                    pre_roll=c.record.pre_roll,
                    post_roll=c.record.post_roll,
                )
                for c in self.site.cameras
            },
            budget_bytes=(
                int(self.site.storage.disk_budget_gb * 1e9)
                if self.site.storage.disk_budget_gb
                else None
            ),
        )
        while not self._stopping.wait(RETENTION_EVERY_S):
            try:
                deleted = policy.apply(index, store_events(events), time.time())
            except Exception:  # retention must never take the service down; say why
                log.exception("retention pass failed")
                continue
            if deleted:
                log.info("retention: deleted %d segments", len(deleted))

    def _start_mqtt(self) -> MqttPublisher | None:
        settings = self.site.mqtt
        if not settings.enabled:
            return None
        publisher = MqttPublisher(
            settings,
            self.hub,
            [c.id for c in self.site.cameras],
            {c.id: [a.name or a.type for a in c.apps] for c in self.site.cameras},
        )
        publisher.start()
        return publisher

    def _start_api(self, state: ServiceState) -> uvicorn.Server:
        s = self.site.server
        config = uvicorn.Config(
            create_app(state), host=s.host, port=s.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api", daemon=True)
        thread.start()
        deadline = time.time() + 10
        while not server.started and thread.is_alive() and time.time() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise VigilError(f"the API cannot listen on {s.host}:{s.port} (in use, or not allowed)")
        port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{s.host}:{port}"
        return server
