"""The supervisor: starts and watches every process of a site, and is its single writer.

Layout (after Frigate): one worker process per camera (ingest, recording, analytics: the
`WorkerPool`), one shared detector process that batches inference across cameras, and this
process, which
- receives every worker message and, as the single writer, stores events, segments and the
  apps' saved states (`AppStates`: a camera's first worker restores its apps from them) in
  the database and fans messages out to the API (WebSocket, live view), MQTT and metrics;
- restarts the detector process when it dies (the pool does so for workers);
- applies the recording retention policy once a minute;
- watches the site file (and is told by the API after a save) and applies changes while
  running, as `plan_site_change` plans them: new scenes on the workers' control pipes, only
  the changed cameras' workers restarted, started or stopped. A site that does not validate
  is reported in one line and the running configuration kept;
- serves the HTTP front end it is given (`vigil.api.server` builds it) with uvicorn
  (127.0.0.1 unless configured otherwise).
A crash or a hung decoder in one camera never takes down the others.

The supervisor does not know the API (it sits below it): the front end is built by a
callable it is handed once the database is open, and is kept informed through `SiteView`.
For the API the supervisor is the site control: `check_site_text`, `apply_site_file` /
`apply_site`, `await_reconfigured`, and `set_live_demand` (workers encode live JPEGs only while
someone watches).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from vigil.appstore.installed import INSTALLED_FILENAME, apps_root, read_records
from vigil.config.editor import SiteChanges
from vigil.config.loader import load_config_text
from vigil.config.site import ServerSettings, SiteConfig
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.events.store import EventStore
from vigil.forensics.store import TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.recording.index import SegmentIndex
from vigil.recording.retention import RetentionPolicy, run_pass
from vigil.recording.rules import camera_retention
from vigil.recording.segmenter import recover
from vigil.recording.segments import SegmentInfo
from vigil.service.cameras import CameraRunner, LocalCameras, RunnerFactory, take_batch
from vigil.service.hub import Hub
from vigil.service.messages import (
    AppStates,
    CameraStatus,
    EventMessage,
    Reconfigured,
    TrackSummaries,
    WorkerMessage,
)
from vigil.service.mqtt.publisher import MqttPublisher
from vigil.service.site_plan import plan_site_change, validate_site, validate_site_text

log = logging.getLogger("vigil.service")

RETENTION_EVERY_S = 60.0
RETENTION_PRESSURE_EVERY_S = 5.0  # while the disk is near its free-space floor
REPEAT_WARNING_S = 60.0  # a camera still down with the same error is logged this often
SITE_POLL_S = 1.0  # how often the site file is checked for changes
WS_MAX_MESSAGE = 64 * 1024  # largest WebSocket message a client may send the API


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


class SiteView(Protocol):
    """What the supervisor keeps informed of the running site: the API's read model
    (`vigil.api.state.ServiceState`)."""

    def apply(self, message: WorkerMessage) -> None:
        """A worker's message (status, live frame, app report, ...)."""

    def set_site(self, site: SiteConfig) -> None:
        """The site as applied after a live change."""

    def close(self) -> None:
        """The service stops."""


#: Builds the HTTP front end once the database is open: the read model the supervisor feeds
#: and the ASGI app it serves (`vigil.api.server.http_front_end`).
FrontEnd = Callable[["Supervisor", EventStore, SegmentIndex], tuple[SiteView, Any]]


@dataclass
class Supervisor:
    site: SiteConfig
    front_end: FrontEnd | None = None  # None: no HTTP API (a site run headless)
    hub: Hub = field(default_factory=Hub)
    runner: RunnerFactory = LocalCameras  # where the cameras run: this machine by default

    def __post_init__(self) -> None:
        self._inbox: queue.Queue[WorkerMessage] = queue.Queue()  # every worker's messages
        self._app_states: AppStateStore | None = None  # once the database is open
        self.cameras: CameraRunner = self.runner(lambda: self.site, self._inbox, self._saved_states)
        self._started = False
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
        # The workers' answers to scene changes, for `await_reconfigured`.
        self._answers: dict[str, Reconfigured] = {}
        self._answer = threading.Condition()
        # Store apps: installed.json of the apps root, and the versions it named last time.
        self._installed_path = apps_root() / INSTALLED_FILENAME
        self._installed_stat: tuple[int, int, int] | None = _stat(self._installed_path)
        self._installed = _installed_versions(self._installed_path)
        self._lock = threading.RLock()
        self._state: SiteView | None = None
        self._mqtt: MqttPublisher | None = None  # told when cameras are added or removed

    # -- life cycle ----------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool], on_ready: Callable[[str], None] | None = None) -> None:
        """Run the site until `stop()` is true; `on_ready(url)` once the API is listening.

        `stop` is polled (twice a second): a signal handler only sets a flag it reads. Setting
        a threading.Event from a handler can deadlock, as the handler runs in the main thread,
        maybe while that thread holds the event's lock (here, in the wait of this loop).
        """
        storage = self.site.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        database = Database(self.site.storage.database_url())
        events, index = EventStore(database, self.site.review), SegmentIndex(database)
        if events.review_missing():  # the first start after review items came (0008)
            log.info("grouping the stored events into review items (once)")
            events.rebuild_review()
        stores = self.cameras.stores_messages  # else the cameras' own nodes store and recover
        self._app_states = AppStateStore(database) if stores else None
        for info in recover(storage / "recordings", report=index.add) if stores else ():
            log.info("recovered an unfinished segment after a crash: %s", info.path)
        state: SiteView | None = None
        pump: threading.Thread | None = None
        mqtt: MqttPublisher | None = None
        server: uvicorn.Server | None = None
        # Whatever fails on the way up (a bad model, the port in use) stops what was already
        # started: the pump thread in particular would otherwise keep the process alive.
        try:
            self.cameras.start_up()
            self._started = True
            if self._site_path is not None:
                self._site_hash = _file_hash(self._site_path)
            app: Any = None
            if self.front_end is not None:
                state, app = self.front_end(self, events, index)
                self._state = state
            pump = threading.Thread(
                target=self._pump,
                args=(state, events, TrackStore(database), index),
                name="pump",
            )
            pump.start()
            mqtt = self._mqtt = self._start_mqtt()
            if app is not None:
                server = self._start_api(app)
            if stores:
                retention = threading.Thread(
                    target=self._retention_loop,
                    args=(index, events),
                    name="retention",
                    daemon=True,
                )
                retention.start()
            with self._lock:  # the API may already apply a changed site file
                for camera in self.site.cameras:
                    if camera.enabled:
                        self.cameras.start(camera.id)
            if on_ready is not None and self.url is not None:
                on_ready(self.url)
            while not stop():
                time.sleep(0.5)
                with self._lock:
                    self.cameras.watch()
                self._poll_site()
                self._poll_installed()
        finally:
            with self._lock:  # no live change starts a worker from here on
                self._stopping.set()
            self.cameras.shut_down()
            if state is not None:
                state.close()
            if server is not None:
                server.should_exit = True
            if pump is not None:
                pump.join(timeout=5.0)
            if mqtt is not None:
                mqtt.stop()
            database.close()

    # -- site control (the API's view of this supervisor) ----------------------------------------

    def set_live_demand(self, camera_id: str, wanted: bool, unmasked: bool = False) -> None:
        """Someone watches the camera's live view (`wanted`), or the last viewer left: its
        worker encodes live JPEGs only while wanted, and an unmasked picture too only while
        a viewer entitled to it (`unmasked`) watches. Thread-safe; remembered across worker
        restarts."""
        self.cameras.set_live_demand(camera_id, wanted, unmasked)

    def await_reconfigured(
        self, camera_id: str, generation: int, timeout: float
    ) -> Reconfigured | None:
        """The worker's answer to the scene change `generation` (or a later one), or None if
        none came within `timeout` seconds. Blocking: call it from a worker thread."""
        deadline = time.monotonic() + timeout
        with self._answer:
            while True:
                answer = self._answers.get(camera_id)
                if answer is not None and answer.generation >= generation:
                    return answer
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._answer.wait(remaining):
                    return None

    def _answered(self, message: Reconfigured) -> None:
        with self._answer:
            self._answers[message.camera] = message
            self._answer.notify_all()

    def check_site_text(self, text: str, file: Path) -> SiteConfig:
        """Check an edited site file's text before the API saves it, as at start."""
        return validate_site_text(text, file)

    def apply_site_file(self) -> SiteChanges:
        """Apply the site file as it is now; the API calls this right after saving it.

        A file that does not validate (exactly as at start) is logged in one line and the
        running configuration is kept. Sections shared by all cameras (detector, storage,
        server, MQTT, ...) apply at the next start only.
        """
        assert self._site_path is not None
        try:
            data = self._site_path.read_bytes()
        except OSError as err:
            with self._lock:
                return self._refused(None, f"{self._site_path}: cannot read file: {err}")
        return self._apply_data(data)

    def apply_site(self, text: str) -> SiteChanges:
        """Apply `text` as the site file's content (saved by the caller, or not: a site
        built in code), as `apply_site_file` would."""
        return self._apply_data(text.encode("utf-8"))

    def _apply_data(self, data: bytes) -> SiteChanges:
        where = self._site_path or Path("<site>")
        with self._lock:
            if self._stopping.is_set() or not self._started:
                return SiteChanges(error="vigil serve is stopping or not started")
            digest = hashlib.sha256(data).hexdigest()
            if digest == self._site_hash and self._site_changes is not None:
                return self._site_changes  # the watcher was first: say what it did
            try:
                text = data.decode("utf-8-sig")
                site = load_config_text(text, where, model=SiteConfig)
                validate_site(site)
            except UnicodeDecodeError as err:
                return self._refused(digest, f"{where}: not UTF-8 text ({err.reason})")
            except VigilError as err:
                return self._refused(digest, str(err))
            self._site_hash = digest
            self._site_changes = self._apply_site(site)
            return self._site_changes

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
                if not types or not camera.enabled:
                    continue
                if self.cameras.reconfigure(camera, frozenset(types)) is not None:
                    what = ", ".join(f"{t} {versions.get(t, '(removed)')}" for t in sorted(types))
                    log.info("camera %s: store apps changed (%s): building them again",
                             camera.id, what)  # fmt: skip

    def _refused(self, digest: str | None, error: str) -> SiteChanges:
        if digest is None or digest != self._site_hash:  # each bad version is logged once
            log.error("site file not applied, the running configuration is kept: %s", error)
        self._site_hash = digest
        self._site_changes = SiteChanges(error=error)
        return self._site_changes

    def _apply_site(self, site: SiteConfig) -> SiteChanges:
        """Carry out `plan_site_change` from the running site to `site` (under the lock)."""
        site.storage.directory = site.storage.directory.resolve()  # as `vigil serve` does
        plan = plan_site_change(self.site, site)
        if plan.held:
            log.warning(
                "site file: changes to %s apply when vigil serve is started again",
                ", ".join(plan.held),
            )
        self.site = plan.site  # what workers started from now on run
        for camera_id in plan.stop:
            self.cameras.stop(camera_id, removed=True)
        for camera_id in plan.start:
            self.cameras.start(camera_id)
        for camera_id in plan.restart:
            self.cameras.stop(camera_id, removed=False)
        reconfigured: dict[str, int] = {}
        for camera_id in plan.reconfigure:
            generation = self.cameras.reconfigure(plan.site.camera(camera_id))
            if generation is not None:
                reconfigured[camera_id] = generation
        if self._state is not None:
            self._state.set_site(plan.site)
        if self._mqtt is not None:
            self._mqtt.set_cameras(_camera_apps(plan.site))
        if plan.changes_cameras:
            log.info(
                "site file applied: new scene on %s; restarted %s; started %s; stopped %s",
                ", ".join(reconfigured) or "none",
                ", ".join(plan.restart) or "none",
                ", ".join(plan.start) or "none",
                ", ".join(plan.stop) or "none",
            )
        return SiteChanges(
            reconfigured=reconfigured,
            restarted=plan.restart,
            started=plan.start,
            stopped=plan.stop,
            restart_needed=plan.held,
        )

    # -- the single writer ---------------------------------------------------------------------

    def _saved_states(self, camera: str) -> dict[str, dict[str, Any]]:
        """What the camera's apps saved, for its first worker (nothing before the database
        is open)."""
        return {} if self._app_states is None else self._app_states.load(camera)

    def _pump(
        self,
        state: SiteView | None,
        events: EventStore,
        tracks_store: TrackStore,
        index: SegmentIndex,
    ) -> None:
        """Route worker messages until the workers are stopped and the queue is drained."""
        # Until every worker is gone and all they said has been handled.
        finished = lambda: self._stopping.is_set() and not self.cameras.reading()  # noqa: E731
        while (batch := take_batch(self._inbox, 100, finished)) is not None:
            stored: list[Event] = []
            tracks: list[TrackSummary] = []
            stores = self.cameras.stores_messages
            for message in batch:
                self.cameras.heard(
                    getattr(message, "camera", None)
                    or getattr(getattr(message, "event", None), "source", None)
                )
                try:
                    if isinstance(message, EventMessage) and stores:
                        stored.append(message.event)
                    elif isinstance(message, TrackSummaries) and stores:
                        tracks.extend(message.tracks)
                    elif isinstance(message, SegmentInfo) and stores:
                        index.add(message)
                    elif isinstance(message, CameraStatus):
                        self._log_status(message)
                    elif isinstance(message, Reconfigured):
                        self._answered(message)
                    elif isinstance(message, AppStates) and self._app_states is not None:
                        self._app_states.save(message.camera, message.states)
                    if state is not None:
                        state.apply(message)
                    self.hub.publish(message)
                except Exception:  # the single writer must outlive one bad message or write
                    self._log_failure(f"handling a {type(message).__name__}")
            if stored:
                try:
                    events.add(stored)
                except Exception:
                    self._log_failure(f"storing {len(stored)} events")
            if tracks:
                try:
                    tracks_store.add(tracks)
                except Exception:
                    self._log_failure(f"storing {len(tracks)} track summaries")

    def _log_status(self, status: CameraStatus) -> None:
        """Say when a camera goes down (and, once a minute, that it still is, when the
        error is the same) and when it is back; not every status of a camera that is down."""
        now = time.time()
        down = self._down.get(status.camera)
        if status.state in ("starting", "stalled", "reconnecting", "offline") and status.error:
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
                report = run_pass(
                    retention_policy(self.site),
                    index,
                    events,
                    storage,
                    tracks=TrackStore(events.database),
                )
            except Exception:  # retention must never take the service down; say why
                log.exception("retention pass failed")
                continue
            wait = RETENTION_PRESSURE_EVERY_S if report.pressure else RETENTION_EVERY_S

    def _start_mqtt(self) -> MqttPublisher | None:
        settings = self.site.mqtt
        if not settings.enabled:
            return None
        apps = _camera_apps(self.site)
        publisher = MqttPublisher(settings, self.hub, list(apps), apps)
        publisher.start()
        return publisher

    def _start_api(self, app: Any) -> uvicorn.Server:
        s = self.site.server
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
        return server


def retention_policy(site: SiteConfig) -> RetentionPolicy:
    """The recording retention of `site`'s cameras, with their privacy policies' maximums,
    as configured now (the site file may have changed)."""
    return RetentionPolicy(
        cameras={c.id: camera_retention(c) for c in site.cameras},
        budget_bytes=(
            int(site.storage.disk_budget_gb * 1e9) if site.storage.disk_budget_gb else None
        ),
        event_share=site.storage.event_footage_share,
        min_free_bytes=site.storage.min_free_bytes,
        events_days=site.storage.events_retain_days,
    )


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
