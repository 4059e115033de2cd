"""The node agent: what runs a cluster site's cameras on one node.

The head (`vigil.cluster.head`) starts one agent per Ray node, as a Ray actor pinned to that
node. The agent runs what `vigil serve` runs on a single box, for the cameras the head gives
it: the node's own batching detector process, one worker process per camera (`WorkerPool`:
restarted when it dies or hangs), recording into ``<storage>/nodes/<node>/``, recovery of
segments left unfinished by a crash, and retention of this node's footage. Frames never leave
the node.

What the workers report (events, segments, the apps' saved states) is written here, straight
into the site's PostgreSQL database, each write fenced by the epoch of the camera's lease (`vigil.cluster.leases`): once the head has
given the camera to another node, this node's writes for it are refused. The agent renews its
leases every third of `lease_seconds`; a renewal that finds a camera taken away stops that
camera, and a node that cannot reach the database for `lease_seconds` stops all of its
cameras itself, so that two nodes never record one camera for longer than that. Everything
else the workers say (status, live frames, app reports, the events it stored) waits in an
outbox the head drains.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigil.cluster.leases import LeaseStore
from vigil.config.site import SiteConfig
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.events.store import EventStore
from vigil.forensics.store import TrackStore
from vigil.recording.index import SegmentIndex
from vigil.recording.retention import run_pass
from vigil.recording.segmenter import recover
from vigil.recording.segments import SegmentInfo
from vigil.service.cameras import LocalCameras, take_batch
from vigil.service.messages import AppStates, EventMessage, TrackSummaries, WorkerMessage
from vigil.service.pool import STOP_GRACE_S
from vigil.service.supervisor import RETENTION_EVERY_S, retention_policy

log = logging.getLogger("vigil.cluster")

OUTBOX_LIMIT = 5000  # messages kept for the head; beyond it the oldest are dropped
WATCH_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """Agent to head: the camera's lease moved on (or could not be renewed): it was stopped
    here."""

    camera: str
    node: str
    reason: str


@dataclass(frozen=True)
class AgentReport:
    """What the head asks an agent every few seconds."""

    node: str
    pids: list[int]
    cameras: dict[str, int]  # camera -> epoch it runs under
    refused_writes: int
    load: float  # the machine's 1-minute load average per CPU
    failed: str | None = None  # why this node cannot run cameras (its model, ...)


@dataclass
class _Outbox:
    messages: collections.deque[WorkerMessage | LeaseLost] = field(
        default_factory=lambda: collections.deque(maxlen=OUTBOX_LIMIT)
    )
    ready: threading.Condition = field(default_factory=threading.Condition)

    def put(self, message: WorkerMessage | LeaseLost) -> None:
        with self.ready:
            self.messages.append(message)
            self.ready.notify_all()

    def take(self, timeout: float, limit: int = 500) -> list[WorkerMessage | LeaseLost]:
        with self.ready:
            if not self.messages:
                self.ready.wait(timeout)
            batch: list[WorkerMessage | LeaseLost] = []
            while self.messages and len(batch) < limit:
                batch.append(self.messages.popleft())
            return batch


def node_site(site: SiteConfig, node: str) -> SiteConfig:
    """`site` as node `node` runs it: recording into its own folder (several nodes may
    share a disk)."""
    storage = site.storage.model_copy(update={"directory": site.storage.directory / "nodes" / node})
    return site.model_copy(update={"storage": storage})


class NodeAgent:
    """The cameras of one node (see the module docstring). Thread-safe: Ray calls it from
    several threads (a threaded actor)."""

    def __init__(self, node: str, site: SiteConfig, lease_seconds: float) -> None:
        logging.basicConfig(
            level=logging.INFO,
            format=f"%(asctime)s %(levelname)s %(name)s [{node}]: %(message)s",
            stream=sys.stderr,
        )
        self.node = node
        self.site = node_site(site, node)
        self.lease_seconds = lease_seconds
        storage = self.site.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        self._database = Database(self.site.storage.database_url())
        self._events = EventStore(self._database, self.site.review)
        self._tracks = TrackStore(self._database)
        self._index = SegmentIndex(self._database, node=node)
        self._leases = LeaseStore(self._database)
        for info in recover(storage / "recordings", report=self._index.add):
            log.info("recovered an unfinished segment after a crash: %s", info.path)
        self._lock = threading.RLock()
        self._epochs: dict[str, int] = {}  # camera -> epoch of the lease it runs under
        self._inbox: queue.Queue[WorkerMessage] = queue.Queue()
        self._outbox = _Outbox()
        self._app_states = AppStateStore(self._database)
        # A camera's apps start from what they saved last, on whichever node that was.
        self._cameras = LocalCameras(lambda: self.site, self._inbox, restore=self._app_states.load)
        self._stopping = threading.Event()
        self.failed: str | None = None
        try:
            self._cameras.start_up()
        except VigilError as err:  # a bad model here: the head says so in one line
            self.failed = f"node {node}: {err}"
            self._threads: list[threading.Thread] = []
            self._stopping.set()
            return
        self._renewed = time.monotonic()
        self._writing = False  # the pump is writing a batch
        self.refused_writes = 0
        self._threads = [
            threading.Thread(target=self._pump, name="pump", daemon=True),
            threading.Thread(target=self._keep, name="keeper", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("node agent ready (pid %s, detector pid %s)", os.getpid(), self._detector_pid)

    @property
    def _detector_pid(self) -> int | None:
        return self._cameras.detector.pid

    # -- what the head asks --------------------------------------------------------------------

    def start_camera(self, camera: str, epoch: int, site: SiteConfig) -> None:
        """Run `camera` under its lease's `epoch`."""
        with self._lock:
            self.site = node_site(site, self.node)
            self._epochs[camera] = epoch
            self._cameras.start(camera)

    def stop_camera(
        self, camera: str, site: SiteConfig, removed: bool = True, wait: bool = False
    ) -> None:
        """Stop `camera` (it finishes its segment); with `removed` False it starts again at
        once with `site` (its source or settings changed). With `wait`, return once its
        worker has exited and all it said is written: its last segment indexed and its apps'
        states saved under the lease it still holds (before the camera moves elsewhere)."""
        with self._lock:
            self.site = node_site(site, self.node)
            self._cameras.stop(camera, removed)
        if wait:
            self._await_stopped(camera, time.monotonic() + STOP_GRACE_S + 5.0)

    def _await_stopped(self, camera: str, deadline: float) -> None:
        pool = self._cameras.pool
        while time.monotonic() < deadline:
            worker = pool.workers.get(camera)
            reading = worker is not None and worker.reader is not None and worker.reader.is_alive()
            if (worker is None or worker.process is None) and not reading:
                break
            time.sleep(0.05)
        # Its messages are all in the inbox or being written: wait for the pump to be idle.
        while time.monotonic() < deadline and (self._writing or not self._inbox.empty()):
            time.sleep(0.05)

    def reconfigure(self, camera: str, site: SiteConfig, rebuild: frozenset[str]) -> int | None:
        with self._lock:
            self.site = node_site(site, self.node)
            return self._cameras.reconfigure(self.site.camera(camera), rebuild)

    def set_live_demand(self, camera: str, wanted: bool, unmasked: bool = False) -> None:
        self._cameras.set_live_demand(camera, wanted, unmasked)

    def drain(self, timeout: float) -> list[WorkerMessage | LeaseLost]:
        """What the workers said since the last call, waiting up to `timeout` s for it."""
        return self._outbox.take(timeout)

    def report(self) -> AgentReport:
        pool = self._cameras.pool
        with self._lock:
            running = {c: self._epochs[c] for c in pool.workers if c in self._epochs}
        workers = [w.process.pid for w in pool.workers.values() if w.process is not None]
        pids = [os.getppid(), os.getpid(), self._detector_pid, *workers]  # raylet first
        cpus = os.cpu_count() or 1
        return AgentReport(
            node=self.node,
            pids=[p for p in pids if p is not None],
            cameras=running,
            refused_writes=self.refused_writes,
            load=round(os.getloadavg()[0] / cpus, 3),
            failed=self.failed,
        )

    def read_file(self, path: str) -> bytes:
        """A recording or snapshot of this node, for the head's API (playback, export)."""
        root = self.site.storage.directory.resolve()
        wanted = Path(path).resolve()
        if not wanted.is_relative_to(root):
            raise VigilError(f"{path}: not a file of node {self.node}")
        return wanted.read_bytes()

    def shutdown(self) -> None:
        """Stop every camera (segments finished and indexed) and the detector."""
        self._stopping.set()
        self._cameras.shut_down()
        for thread in self._threads:
            thread.join(timeout=10.0)
        self._database.close()

    # -- inside ----------------------------------------------------------------------------------

    def _keep(self) -> None:
        """Watch the workers and the detector, renew the leases, run retention."""
        renew_every = self.lease_seconds / 3
        renewed_at = retained_at = time.monotonic()
        while not self._stopping.wait(WATCH_EVERY_S):
            now = time.monotonic()
            try:
                with self._lock:
                    self._cameras.watch()
                if now - renewed_at >= renew_every:
                    renewed_at = now
                    self._renew(now)
                if now - retained_at >= RETENTION_EVERY_S:
                    retained_at = now
                    storage = self.site.storage.directory
                    run_pass(
                        retention_policy(self.site),
                        self._index,
                        self._events,
                        storage,
                        tracks=self._tracks,
                    )
            except Exception:  # the keeper must outlive any one failure; say what it was
                log.exception("node agent: watching its cameras failed")

    def _renew(self, now: float) -> None:
        with self._lock:
            held = {c: e for c, e in self._epochs.items() if c in self._cameras.pool.workers}
        if not held:
            self._renewed = now
            return
        try:
            lost = self._leases.renew(self.node, held)
        except Exception as err:  # the database is out of reach: fence ourselves in time
            if now - self._renewed < self.lease_seconds:
                log.warning("cannot renew camera leases: %s", err)
                return
            lost, reason = set(held), f"leases not renewed for {self.lease_seconds:.0f} s"
        else:
            self._renewed, reason = now, "given to another node"
        for camera in sorted(lost):
            log.warning("camera %s: lease lost (%s): stopping it here", camera, reason)
            with self._lock:
                self._cameras.stop(camera, removed=True)
                self._epochs.pop(camera, None)
            self._outbox.put(LeaseLost(camera, self.node, reason))

    def _pump(self) -> None:
        """Write what the workers report (fenced), pass everything on to the head."""
        finished = lambda: self._stopping.is_set() and not self._cameras.reading()  # noqa: E731
        while (batch := take_batch(self._inbox, 200, finished)) is not None:
            if not batch:
                continue
            self._writing = True
            try:
                self._write(batch)
            except Exception:  # a write failed (database down): the next batch tries again
                log.exception("node agent: storing %d messages failed", len(batch))
            finally:
                self._writing = False

    def _write(self, batch: list[WorkerMessage]) -> None:
        events: list[EventMessage] = []
        for message in batch:
            self._cameras.heard(getattr(message, "camera", None))
            if isinstance(message, EventMessage):
                events.append(message)
                continue
            if isinstance(message, TrackSummaries):
                fence = {message.camera: self._epoch(message.camera)}
                self.refused_writes += len(
                    self._tracks.add(message.tracks, node=self.node, fence=fence)
                )
                continue  # summaries stay in the database; the head has no use for them live
            if isinstance(message, SegmentInfo):
                stale = self._index.add(message, epoch=self._epoch(message.camera)) is None
            elif isinstance(message, AppStates):
                epoch = self._epoch(message.camera)
                stale = not self._app_states.save(message.camera, message.states, epoch=epoch)
            else:
                stale = False
            if stale:
                self.refused_writes += 1
                continue
            self._outbox.put(message)
        if events:
            fence = {m.event.source: self._epoch(m.event.source) for m in events}
            refused: list[Event] = self._events.add(
                [m.event for m in events], node=self.node, fence=fence
            )
            self.refused_writes += len(refused)
            refused_ids = {id(e) for e in refused}
            for message in events:
                if id(message.event) not in refused_ids:
                    self._outbox.put(message)

    def _epoch(self, camera: str) -> int:
        with self._lock:
            return self._epochs.get(camera, 0)  # 0: no lease here, the write is refused
