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
- watches the site file (and is told by the API after a save) and applies changes while
  running: a camera whose zones, lines or apps changed gets the new scene on its worker's
  control pipe (no restart); a camera whose source or recording settings changed has its
  worker restarted, alone; cameras added or removed get their worker started or stopped. A
  file that does not validate is reported in one line and the running configuration kept;
- serves the HTTP API with uvicorn (127.0.0.1 unless configured otherwise).
A crash or a hung decoder in one camera never takes down the others.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from vigil.api.app import create_app, log_setup_hint
from vigil.api.state import ServiceState
from vigil.apps.base import Scene
from vigil.appstore.installed import INSTALLED_FILENAME, apps_root, read_records
from vigil.config.editor import SiteChanges
from vigil.config.loader import load_config_text
from vigil.db.database import Database
from vigil.detection.classes import COCO_CLASSES
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.events.store import EventStore
from vigil.pipeline.build import check_apps
from vigil.recording.index import SegmentIndex
from vigil.recording.retention import CameraRetention, RetentionPolicy, run_pass
from vigil.recording.segmenter import recover
from vigil.service.config import CameraConfig, ServerSettings, SiteConfig
from vigil.service.detector_service import DetectorService
from vigil.service.hub import Hub
from vigil.service.messages import CameraStatus, EventMessage, Reconfigure, SegmentInfo
from vigil.service.mqtt import MqttPublisher
from vigil.service.worker import EXIT_CAMERA_FAILED, WorkerSpec, run_worker

log = logging.getLogger("vigil.service")

STALL_AFTER_S = 30.0  # a worker silent this long is hung: it is killed and restarted
BACKOFF_S = (1.0, 60.0)
RETENTION_EVERY_S = 60.0
RETENTION_PRESSURE_EVERY_S = 5.0  # while the disk is near its free-space floor
STOP_GRACE_S = 10.0
REPEAT_WARNING_S = 60.0  # a camera still down with the same error is logged this often
SITE_POLL_S = 1.0  # how often the site file is checked for changes
SCENE_FIELDS = frozenset({"zones", "lines", "apps"})  # what a worker applies without restart
WS_MAX_MESSAGE = 64 * 1024  # largest WebSocket message a client may send the API


def validate_site(site: SiteConfig) -> None:
    """Check every camera's apps against a placeholder scene, so a bad app type, setting or
    zone name is reported (with its `cameras[i]` key path) before anything starts; nothing
    is started (a store app's sandbox neither), since every change of the file is checked."""
    for i, camera in enumerate(site.cameras):
        zones = [z.to_zone(name) for name, z in camera.zones.items()]
        lines = [ln.to_line(name) for name, ln in camera.lines.items()]
        scene = Scene.build(1000, 1000, zones, lines, COCO_CLASSES)
        check_apps(camera, scene, site, scope=("cameras", i))


def validate_site_text(text: str, file: str | os.PathLike[str]) -> SiteConfig:
    """The site in `text`, checked exactly as `vigil serve` checks its file at start."""
    site = load_config_text(text, file, model=SiteConfig)
    validate_site(site)
    return site


def check_api_port(host: str, port: int) -> None:
    """Fail in one line when the API cannot listen on `host:port` (in use, not allowed),
    before the database, the detector and the cameras start, rather than after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as err:
            reason = err.strerror or str(err)
            raise VigilError(f"the API cannot listen on {host}:{port}: {reason}") from None


@dataclass
class _Worker:
    camera: str
    process: mp.process.BaseProcess | None = None
    reader: threading.Thread | None = None  # reads this worker's pipe into the inbox
    started_at: float = 0.0
    last_heard: float = 0.0
    restarts: int = 0
    not_before: float = 0.0  # backoff: no restart before this time
    backoff: float = BACKOFF_S[0]
    control: Any = None  # write end of the worker's control pipe (`Reconfigure`)
    retiring: bool = False  # asked to stop: its camera was removed, or its source changed
    removed: bool = False  # once stopped: dropped (camera removed), else started again
    stop_deadline: float = 0.0  # a retiring worker still running then is killed
    reported: bool = False  # it exited as its camera could not run: restarted quietly


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
        # Live changes: the file's content hash as last read, and one change at a time
        # (the watcher here and the API after a save) against the worker bookkeeping.
        self._site_path = Path(self.site.file) if self.site.file is not None else None
        self._site_hash: str | None = None
        self._site_changes: SiteChanges | None = None  # what applying that content did
        self._site_checked = 0.0
        self._site_stat: tuple[int, int, int] | None = None  # inode, size, mtime last polled
        self._generation = 0
        # Store apps: installed.json of the apps root, and the versions it named last time.
        self._installed_path = apps_root() / INSTALLED_FILENAME
        self._installed_stat: tuple[int, int, int] | None = _stat(self._installed_path)
        self._installed = _installed_versions(self._installed_path)
        self._lock = threading.RLock()
        self._detector: DetectorService | None = None
        self._state: ServiceState | None = None
        self._mqtt: MqttPublisher | None = None  # told when cameras are added or removed

    # -- life cycle ----------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool], on_ready=None) -> None:
        """Run the site until `stop()` is true; `on_ready(url)` once the API is listening.

        `stop` is polled (twice a second): a signal handler only sets a flag it reads. Setting
        a threading.Event from a handler can deadlock, as the handler runs in the main thread,
        maybe while that thread holds the event's lock (here, in the wait of this loop).
        """
        storage = self.site.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        database = Database(self.site.storage.database_url())
        events, index = EventStore(database), SegmentIndex(database)
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
            self._detector, self._state = detector, state
            if self._site_path is not None:
                self._site_hash = _file_hash(self._site_path)
            pump = threading.Thread(target=self._pump, args=(state, events, index), name="pump")
            pump.start()
            mqtt = self._mqtt = self._start_mqtt()
            server = self._start_api(state)
            retention = threading.Thread(
                target=self._retention_loop, args=(index, events), name="retention", daemon=True
            )
            retention.start()
            with self._lock:  # the API may already apply a changed site file
                for worker in self._workers.values():
                    self._spawn(worker, detector)
            if on_ready is not None:
                on_ready(self.url)
            while not stop():
                time.sleep(0.5)
                with self._lock:
                    self._watch(detector)
                self._poll_site()
                self._poll_installed()
        finally:
            with self._lock:  # no live change starts a worker from here on
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
            database.close()

    def _spawn(self, worker: _Worker, detector: DetectorService) -> None:
        worker.retiring = False
        if worker.control is not None:
            worker.control.close()  # its reader, the previous worker, is gone
        receive, send = self._ctx.Pipe(duplex=False)
        control_receive, worker.control = self._ctx.Pipe(duplex=False)
        spec = WorkerSpec(
            worker.camera, self.site, send, detector=detector.handle, control=control_receive
        )
        worker.process = self._ctx.Process(
            target=run_worker, args=(spec,), name=f"vigil-{worker.camera}", daemon=True
        )
        try:
            worker.process.start()
        finally:
            send.close()  # the worker holds the only write end: its exit ends the pipe
            control_receive.close()
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
        for worker in list(self._workers.values()):
            process = worker.process
            if worker.retiring:
                self._retire(worker, detector, now)
                continue
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
                # A camera that could not run was reported by its last status (`_log_status`).
                worker.reported = process.exitcode == EXIT_CAMERA_FAILED
                if not worker.reported:
                    log.error("camera %s: worker exited (code %s)", worker.camera, process.exitcode)
            if process is not None:
                worker.process = None
                worker.not_before = now + worker.backoff
                if not worker.reported:
                    log.info("camera %s: restart in %.0f s", worker.camera, worker.backoff)
                worker.backoff = min(worker.backoff * 2, BACKOFF_S[1])
            if worker.process is None and now >= worker.not_before:
                worker.restarts += 1
                self._spawn(worker, detector)

    # -- live configuration ----------------------------------------------------------------------

    def _poll_site(self) -> None:
        """Apply the site file when its content changed (checked every `SITE_POLL_S`)."""
        now = time.monotonic()
        if self._site_path is None or now - self._site_checked < SITE_POLL_S:
            return
        self._site_checked = now
        stat = _stat(self._site_path)
        if stat is None:
            return  # being replaced; or gone, and the running configuration stays
        if stat == self._site_stat:
            return
        self._site_stat = stat
        # The content decides: a touched file or a rewrite with the same text changes nothing.
        if _file_hash(self._site_path) != self._site_hash:
            self.apply_site_file()

    def _poll_installed(self) -> None:
        """When `vigil apps install/upgrade/remove` changed installed.json, give the cameras
        running a changed app a new build of it (its sandbox starts from the new version)."""
        stat = _stat(self._installed_path)
        if stat == self._installed_stat:
            return
        self._installed_stat = stat
        versions = _installed_versions(self._installed_path)
        if versions is None:
            return  # unreadable: the running apps stay until it is readable again
        before = self._installed or {}
        changed = {k for k in versions.keys() | before.keys() if versions.get(k) != before.get(k)}
        self._installed = versions
        with self._lock:
            for camera in self.site.cameras:
                types = changed & {a.type for a in camera.apps if a.enabled}
                worker = self._workers.get(camera.id)
                if not types or worker is None or not camera.enabled:
                    continue
                if self._reconfigure(worker, camera, frozenset(types)) is not None:
                    what = ", ".join(f"{t} {versions.get(t, '(removed)')}" for t in sorted(types))
                    log.info("camera %s: store apps changed (%s): building them again",
                             camera.id, what)  # fmt: skip

    def check_site_text(self, text: str, file: Path) -> SiteConfig:
        """`SiteControl`: check an edited site file's text before the API saves it."""
        return validate_site_text(text, file)

    def apply_site_file(self) -> SiteChanges:
        """Apply the site file as it is now; the API calls this right after saving it.

        A file that does not validate (exactly as at start) is logged in one line and the
        running configuration is kept. Sections shared by all cameras (detector, storage,
        server, MQTT, ...) apply at the next start only.
        """
        assert self._site_path is not None and self._detector is not None
        with self._lock:
            if self._stopping.is_set():
                return SiteChanges(error="vigil serve is stopping")
            try:
                data = self._site_path.read_bytes()
            except OSError as err:
                return self._refused(None, f"{self._site_path}: cannot read file: {err}")
            digest = hashlib.sha256(data).hexdigest()
            if digest == self._site_hash and self._site_changes is not None:
                return self._site_changes  # the watcher was first: say what it did
            try:
                text = data.decode("utf-8-sig")
                site = load_config_text(text, self._site_path, model=SiteConfig)
                validate_site(site)
            except UnicodeDecodeError as err:
                return self._refused(digest, f"{self._site_path}: not UTF-8 text ({err.reason})")
            except VigilError as err:
                return self._refused(digest, str(err))
            self._site_hash = digest
            self._site_changes = self._apply_site(site)
            return self._site_changes

    def _refused(self, digest: str | None, error: str) -> SiteChanges:
        if digest is None or digest != self._site_hash:  # each bad version is logged once
            log.error("site file not applied, the running configuration is kept: %s", error)
        self._site_hash = digest
        self._site_changes = SiteChanges(error=error)
        return self._site_changes

    def _apply_site(self, site: SiteConfig) -> SiteChanges:
        site.storage.directory = site.storage.directory.resolve()  # as `vigil serve` does
        # Sections shared by all cameras and processes (detector, storage, server, ...).
        held = tuple(
            k
            for k in SiteConfig.model_fields
            if k != "cameras" and getattr(site, k) != getattr(self.site, k)
        )
        if held:
            log.warning(
                "site file: changes to %s apply when vigil serve is started again",
                ", ".join(held),
            )
        site = site.model_copy(update={k: getattr(self.site, k) for k in held})
        before = {c.id: c for c in self.site.cameras if c.enabled}
        self.site = site  # what workers started from now on run
        workers = dict(self._workers)  # copied: the pump reads the dict without the lock
        reconfigured: dict[str, int] = {}
        restarted: list[str] = []
        started: list[str] = []
        stopped: list[str] = []
        after = {c.id: c for c in site.cameras if c.enabled}
        for camera_id in before.keys() - after.keys():
            self._ask_stop(workers[camera_id], removed=True)
            stopped.append(camera_id)
        for camera_id, camera in after.items():
            old = before.get(camera_id)
            worker = workers.get(camera_id)
            if worker is None:
                worker = workers[camera_id] = _Worker(camera_id)
                self._spawn(worker, self._detector)
                started.append(camera_id)
            elif old is None:  # removed, and back before its worker had stopped
                worker.removed = False
                started.append(camera_id)
            elif _beyond_scene(old) != _beyond_scene(camera):
                self._ask_stop(worker, removed=False)
                restarted.append(camera_id)
            elif old != camera:
                generation = self._reconfigure(worker, camera)
                if generation is not None:
                    reconfigured[camera_id] = generation
        self._workers = workers
        if self._state is not None:
            self._state.set_site(site)
        if self._mqtt is not None:
            self._mqtt.set_cameras(_camera_apps(site))
        changes = SiteChanges(
            reconfigured=reconfigured,
            restarted=tuple(restarted),
            started=tuple(started),
            stopped=tuple(stopped),
            restart_needed=held,
        )
        if reconfigured or restarted or started or stopped:
            log.info(
                "site file applied: new scene on %s; restarted %s; started %s; stopped %s",
                ", ".join(reconfigured) or "none",
                ", ".join(restarted) or "none",
                ", ".join(started) or "none",
                ", ".join(stopped) or "none",
            )
        return changes

    def _reconfigure(
        self, worker: _Worker, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> int | None:
        """Send the worker its camera's new scene (and the app types to build again); None
        when it is not running (it reads the new configuration when it starts)."""
        if worker.process is None or worker.retiring or worker.control is None:
            return None
        self._generation += 1
        try:
            worker.control.send(Reconfigure(camera, self._generation, rebuild))
        except (OSError, ValueError):  # it just died: its restart reads the new config
            return None
        return self._generation

    def _ask_stop(self, worker: _Worker, removed: bool) -> None:
        """Stop a worker (it finishes its segment); `_watch` then drops or restarts it."""
        worker.retiring, worker.removed = True, removed
        worker.stop_deadline = time.time() + STOP_GRACE_S
        if worker.process is not None:
            worker.process.terminate()  # SIGTERM: the worker finishes its segment and exits

    def _retire(self, worker: _Worker, detector: DetectorService, now: float) -> None:
        process = worker.process
        if process is not None and process.is_alive():
            if now < worker.stop_deadline:
                return
            log.error("camera %s: worker did not stop in time: killing it", worker.camera)
            process.kill()
            process.join(timeout=2.0)
        worker.process = None
        if worker.removed:
            workers = dict(self._workers)
            workers.pop(worker.camera, None)
            self._workers = workers
            log.info("camera %s: worker stopped (camera removed or disabled)", worker.camera)
        else:
            log.info("camera %s: worker restarted with its new settings", worker.camera)
            self._spawn(worker, detector)

    def _stop_workers(self) -> None:
        for worker in self._workers.values():
            if worker.process is not None:
                worker.process.terminate()  # workers finalise their open segments and exit
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
                worker = self._workers.get(camera)  # None once its camera was removed
                if worker is not None:
                    worker.last_heard = time.time()
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
        if status.state in ("starting", "reconnecting", "offline") and status.error:
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
        wait = RETENTION_EVERY_S
        while not self._stopping.wait(wait):
            storage = self.site.storage.directory
            try:
                report = run_pass(self._retention_policy(), index, events, storage)
            except Exception:  # retention must never take the service down; say why
                log.exception("retention pass failed")
                continue
            wait = RETENTION_PRESSURE_EVERY_S if report.pressure else RETENTION_EVERY_S

    def _retention_policy(self) -> RetentionPolicy:
        """From the cameras as configured now (the site file may have changed)."""
        return RetentionPolicy(
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
            event_share=self.site.storage.event_footage_share,
            min_free_bytes=self.site.storage.min_free_bytes,
            events_days=self.site.storage.events_retain_days,
        )

    def _start_mqtt(self) -> MqttPublisher | None:
        settings = self.site.mqtt
        if not settings.enabled:
            return None
        apps = _camera_apps(self.site)
        publisher = MqttPublisher(settings, self.hub, list(apps), apps)
        publisher.start()
        return publisher

    def _start_api(self, state: ServiceState) -> uvicorn.Server:
        s = self.site.server
        app = create_app(state, site=self if self._site_path is not None else None)
        config = api_server_config(app, s)
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
        log_setup_hint(app, port, self._site_path)
        return server


def api_server_config(app: Any, settings: ServerSettings) -> uvicorn.Config:
    """How uvicorn serves the API. Its own proxy-header handling is off: by default it
    believes ``X-Forwarded-For`` from 127.0.0.1, so any local client could pick its address;
    the app believes only ``server.trusted_proxies`` (`create_app`). WebSocket messages from
    clients are small (the API only reads them to notice a disconnect)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
        ws_max_size=WS_MAX_MESSAGE,
    )


def _camera_apps(site: SiteConfig) -> dict[str, list[str]]:
    """Each camera's app instance names: what MQTT announces."""
    return {c.id: [a.name or a.type for a in c.apps] for c in site.cameras}


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stat(path: Path) -> tuple[int, int, int] | None:
    """inode, size and mtime of `path` (None if it cannot be read): a change means a write."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _installed_versions(path: Path) -> dict[str, str] | None:
    """The version of each installed store app ({} when none; None when unreadable)."""
    try:
        return {k: r.version for k, r in read_records(path.parent).items()}
    except VigilError:
        return None


def _beyond_scene(camera: CameraConfig) -> dict[str, Any]:
    """A camera's settings other than its scene: a change here restarts its worker."""
    return camera.model_dump(exclude=SCENE_FIELDS)
