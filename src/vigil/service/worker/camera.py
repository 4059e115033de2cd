"""One camera's worker: ingest, recording and analytics (run in a process of its own by
`vigil.service.worker.process`).

Two threads, so that analysis never holds up the stream:
- ingest (the process's main thread): demux and decode the camera, remux every packet into
  recording segments, and hand the frames due at `detect_fps` to analytics through a
  small bounded mailbox (`FrameMailbox`: drop-oldest, frames that waited too long are
  dropped), counted as dropped;
- analytics: the engine (motion gating → detection via the shared detector service →
  tracking → apps), event snapshots, per-frame metadata and, while someone watches
  (`LiveDemand`), live JPEGs, masked as the camera's privacy policy says
  (`vigil.service.worker.masks`).
Everything the supervisor needs travels as small messages (see `vigil.service.messages`)
handed to `send` (in the worker process: its `Outbox`, a pipe of its own).

The state of the restorable apps (`vigil.apps.base.App.restorable`: line totals, a peak)
outlives the worker: it starts them from the states in its spec and sends `AppStates` when
they change (at most every `APP_STATES_EVERY_S`) and when it stops; an engine built again
(a new picture size, after an error) starts its apps from the latest states too.

Analysis failures never end the worker: a frame the detector service cannot serve (it died
and is being restarted) is dropped and analysis goes on with the next one; any other error
is logged and the engine is built afresh.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vigil.apps.base import App, Scene
from vigil.appstore.registry import build_app
from vigil.config.schema import AppConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.detection.base import LetterboxingDetector
from vigil.detection.classes import COCO_CLASSES
from vigil.detection.detections import Detections
from vigil.errors import VigilError
from vigil.forensics.summary import TrackSummary
from vigil.outputs.annotate import Annotator
from vigil.pipeline.build import build_detector, build_engine, build_scene
from vigil.pipeline.engine import Engine, FrameResult
from vigil.privacy.masking import static_mask
from vigil.recording.segmenter import RECORDABLE_CODECS, Segmenter, camera_dirname, recover
from vigil.recording.segments import SegmentInfo
from vigil.service.detector.client import DetectorClient
from vigil.service.detector.messages import DetectorHandle
from vigil.service.messages import (
    AppStates,
    AppStatus,
    CameraState,
    CameraStatus,
    EventMessage,
    FrameMetadata,
    LiveDemand,
    LiveFrame,
    RawFrame,
    Reconfigure,
    Reconfigured,
    TrackedObject,
    TrackSummaries,
)
from vigil.service.worker.boxes import SegmentBoxes
from vigil.service.worker.mailbox import FrameMailbox
from vigil.service.worker.masks import FrameMasks, tracked_now
from vigil.service.worker.shapes import changed_shapes, mentions
from vigil.service.worker.snapshots import SNAPSHOT_QUALITY, write_snapshot
from vigil.sources.frame import Frame
from vigil.sources.items import DecodedFrame, Disconnected, Gap, Packet, StreamOpened
from vigil.sources.live import LiveSource

STATUS_INTERVAL_S = 1.0
_STATES: dict[str, CameraState] = {
    "connecting": "starting",
    "online": "online",
    "reconnecting": "reconnecting",
}
LIVE_FPS = 4.0
LIVE_QUALITY = 70
RAW_FRAME_EVERY_S = 5.0  # the picture without overlays, for the zone editor
ERROR_LOG_EVERY_S = 60.0  # the same analysis error is logged at most this often
APP_STATES_EVERY_S = 10.0  # restorable apps' states are sent at most this often

log = logging.getLogger("vigil.worker")


@dataclass
class WorkerSpec:
    """Everything a worker process needs; picklable for the `spawn` start method."""

    camera_id: str
    site: SiteConfig
    messages: Any  # the write end of this worker's pipe to the supervisor (a Connection)
    # A threading.Event of the worker's own process (`run_worker` makes it). The supervisor
    # asks a worker to stop with SIGTERM, never with a multiprocessing Event: a worker
    # killed while waiting on one leaves its lock counting a sleeper that never wakes, and
    # the supervisor's `set()` would then wait for that sleeper for good.
    stop: Any = None
    detector: DetectorHandle | None = None  # None: an in-process detector
    control: Any = None  # the read end of the supervisor's pipe for `Reconfigure` messages
    # The saved states to start the camera's restorable apps from (app name -> state), and
    # how often the worker sends theirs (`AppStates`).
    restore: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_states_every_s: float = APP_STATES_EVERY_S


class CameraWorker:
    def __init__(self, spec: WorkerSpec, send: Any = None):
        self.spec = spec
        self._sender = send if send is not None else spec.messages.put
        self.camera: CameraConfig = spec.site.camera(spec.camera_id)
        storage = spec.site.storage.directory
        self.snapshots = storage / "snapshots" / self.camera.id
        self.snapshots.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.status = CameraStatus(self.camera.id, "starting", now, since=now, pid=os.getpid())
        self._last_frame_at: float | None = None  # arrival of the latest picture
        # Frames due for analysis, handed from ingest to analytics (see `FrameMailbox`).
        self._mailbox = FrameMailbox(self.camera.analysis_queue, self.camera.analysis_max_age)
        self._analysis_failures = 0  # frames dropped because analysing them failed
        self._frame_size: tuple[int, int] | None = None  # (w, h) announced by the stream
        self._engine_size: tuple[int, int] | None = None  # (w, h) the engine was built for
        self._latencies: list[float] = []
        self._client: DetectorClient | None = None  # the shared detector, once analysis starts
        self._processed_window: list[float] = []
        self._in_window: list[float] = []
        self._last_live = 0.0
        # Someone watches the live view (`LiveDemand`): only then are LiveFrames drawn and
        # encoded, work that would otherwise cost every camera a share of a core.
        self._live_wanted = False
        self._unmasked_wanted = False  # ... by someone entitled to it unmasked
        self._masks: FrameMasks | None = None  # the privacy policy's, for the picture size
        self._next_due = 0.0
        self._analysis_error: tuple[float, str] | None = None  # (when, one line)
        #: Set when the supervisor is gone: segments can no longer be reported.
        self.orphaned = threading.Event()
        self._error_logged: dict[str, float] = {}
        # Live reconfiguration: the control thread leaves the latest request here; the
        # analytics thread applies it between frames.
        self._reconfigure: Reconfigure | None = None
        self._reconfigure_lock = threading.Lock()
        self._scene: Scene | None = None  # of the running engine
        self._app_specs: dict[str, AppConfig] = {}  # running app name -> its config
        self._last_raw = 0.0
        self._apps_due = 0.0  # when analysis next copies the apps' counters into `status`
        # The restorable apps' latest states (what an engine built now starts from), those
        # last sent, and when they are next sent if they changed.
        self._app_states: dict[str, dict[str, Any]] = dict(spec.restore)
        self._states_sent = self._app_states
        self._states_due = 0.0
        self.status.apps = self._app_statuses(None)
        self.segmenter: Segmenter | None = None
        # The tracked boxes stored beside each segment, for masking it when served.
        self._boxes = SegmentBoxes(COCO_CLASSES)
        if self.camera.record.mode != "off":
            self.status.recording = "on"  # until a stream shows a codec it cannot record
            self.segmenter = Segmenter(
                self.camera.id,
                storage / "recordings",
                segment_seconds=self.camera.record.segment_seconds,
                on_segment=self._segment_done,
                min_free_bytes=spec.site.storage.min_free_bytes,
            )

    # -- ingest ------------------------------------------------------------------------------

    def run(self) -> None:
        if self.segmenter is not None:
            self._recover()
        source = LiveSource(
            self.camera.url,
            self.camera.id,
            transport=self.camera.transport,
            loop=self.camera.loop,
            decode_every=0,  # pixels only for the frames analytics takes
            hwaccel=self.camera.hwaccel,
            # nothing else needs pictures: live view and snapshots come from analysed frames,
            # recording remuxes the packets
            needed_fps=self.camera.detect_fps,
        )
        analytics = threading.Thread(target=self._analytics, name="analytics", daemon=True)
        analytics.start()
        watcher = threading.Thread(target=self._stop_watch, args=(source,), daemon=True)
        watcher.start()
        if self.spec.control is not None:
            threading.Thread(target=self._control, name="control", daemon=True).start()
        last_status = 0.0
        try:
            # Poll rather than iterate: status keeps flowing while the camera is down.
            while not self.spec.stop.is_set() and not source.finished:
                item = source.get(timeout=STATUS_INTERVAL_S)
                if item is not None:
                    self._ingest(item)
                now = time.time()
                if now - last_status >= STATUS_INTERVAL_S:
                    self._report(source)
                    last_status = now
        finally:
            source.close()
            self._mailbox.wake()
            analytics.join(timeout=5.0)
            if self.segmenter is not None:
                self.segmenter.close()  # finalises the open segment: no corrupt file
                self._boxes.close()
            self.status.state = "stopped"
            self._send(self.status)

    def _recover(self) -> None:
        """Finish what a killed predecessor of this worker left: its open segment's journal
        (``.mp4.part``) becomes a segment and is indexed. The supervisor recovers the whole
        recordings folder only when it starts; a worker restarted after a crash does its own
        camera's folder, where nothing else writes, before it records again."""
        directory = self.spec.site.storage.directory / "recordings"
        recover(directory / camera_dirname(self.camera.id), report=self._send)

    def _stop_watch(self, source: LiveSource) -> None:
        """Close the source as soon as stop is asked, even while it waits for the network."""
        self.spec.stop.wait()
        source.close()

    def _ingest(self, item: object) -> None:
        if isinstance(item, Packet):
            if self.segmenter is not None:
                self.segmenter.write(item.packet, item.wall_time)
        elif isinstance(item, DecodedFrame):
            self._last_frame_at = time.time()
            self.status.frames_in += 1
            self._in_window.append(item.wall_time)
            if item.wall_time >= self._next_due:
                period = 1.0 / self.camera.detect_fps
                self._next_due += period  # a steady cadence, whatever the arrival jitter
                if self._next_due <= item.wall_time:  # the first frame, or back after a gap
                    self._next_due = item.wall_time + period
                self._post(item.to_frame())
        elif isinstance(item, StreamOpened):
            self.status.decoder = item.decoder
            if item.width and item.height:
                self._frame_size = (item.width, item.height)  # analytics builds its engine
            if self.segmenter is not None:
                self.segmenter.start(item.stream)
                recordable = item.codec in RECORDABLE_CODECS
                self.status.recording = "on" if recordable else f"unsupported: {item.codec}"
        elif isinstance(item, Disconnected):
            if self.segmenter is not None:
                self.segmenter.gap()  # close the segment now; the gap shows in the index
        elif isinstance(item, Gap):
            self.status.reconnects += 1

    def _post(self, frame: Frame) -> None:
        self._mailbox.put(frame)  # analytics far behind: the oldest waiting frame is dropped

    def _report(self, source: LiveSource) -> None:
        now = time.time()
        s = self.status
        s.enter(_STATES.get(source.state, "offline"), now, self._last_frame_at)
        s.error = source.last_error
        failed = self._analysis_error
        if failed is not None and now - failed[0] < 2 * STATUS_INTERVAL_S + 1:
            s.error = failed[1]  # analysis failing now says more than an old stream error
        s.wall_time = now
        s.fps_in = _rate(self._in_window, now)
        s.fps_processed = _rate(self._processed_window, now)
        s.frames_dropped = self._mailbox.dropped + self._analysis_failures
        if self._latencies:
            s.detector_latency_ms = statistics.median(self._latencies) * 1000
            self._latencies.clear()
        if self._client is not None:
            s.queue_depth = self._client.outstanding
        if self.segmenter is not None and self.segmenter.last_end_time is not None:
            s.recording_lag_s = max(0.0, now - self.segmenter.last_end_time)
        self._send(s)

    def _segment_done(self, info: SegmentInfo) -> None:
        if self.orphaned.is_set():
            # Nobody would index it: raising keeps the segment's journal beside the finished
            # file, and the next start's recover() indexes the file.
            raise RuntimeError(f"camera {self.camera.id}: the supervisor is gone")
        self._boxes.segment_done(info)
        self._send(info)

    # -- analytics ---------------------------------------------------------------------------

    def _analytics(self) -> None:
        engine: Engine | None = None
        annotator: Annotator | None = None
        while not self.spec.stop.is_set():
            frame = self._mailbox.get(timeout=0.5)
            annotator = self._apply_reconfigure(engine, annotator)
            # Build the engine as soon as the picture size is known (the stream opened), so
            # that the first frames do not wait (and get dropped) while apps start.
            size = self._frame_size if frame is None else (frame.width, frame.height)
            if size is None or (frame is None and engine is not None):
                continue
            try:
                if engine is not None and size != self._engine_size:
                    log.info("camera %s: picture size now %dx%d", self.camera.id, *size)
                    self._save_states(engine)
                    self._send_tracks(engine.finish_tracks())
                    _close_engine(engine)
                    engine = annotator = None
                if engine is None:
                    engine, annotator = self._build(size)
                if frame is None:
                    continue
                started = time.perf_counter()
                result = engine.process(frame)
            except VigilError as err:
                # The detector service died (the supervisor restarts it; the client
                # reconnects) or did not answer in time: this frame goes unanalysed.
                self._analysis_failed(str(err), exc_info=False, dropped=frame is not None)
                continue
            except Exception as err:  # a bug must not silently end analysis for good
                self._analysis_failed(error_line(err), exc_info=True, dropped=frame is not None)
                if engine is not None:  # start again from a clean engine, and the apps' states
                    self._save_states(engine)
                    self._send_tracks(engine.finish_tracks())
                    _close_engine(engine)
                engine = annotator = None
                continue
            self._latencies.append(time.perf_counter() - started)
            self._send_tracks(result.tracks)
            self.status.frames_processed += 1
            self._processed_window.append(frame.wall_time or time.time())
            if time.monotonic() >= self._apps_due:  # read by `_report` once a second
                self._refresh_apps(engine)
            if time.monotonic() >= self._states_due:
                self._save_states(engine)
            # Masks follow the tracker: coasting and not yet confirmed tracks stay masked, live
            # and in playback.
            excluded = engine.gate.excluded if result.detected else None
            tracked = tracked_now(result.objects, engine.tracker, excluded)
            if self.segmenter is not None:
                self.segmenter.mark(
                    motion=len(engine.gate.motion_boxes) > 0, objects=len(result.objects) > 0
                )
                self._boxes.add(frame.wall_time or time.time(), tracked)
            if annotator is not None:  # built with the engine
                self._publish(result, annotator, tracked)
            self._publish_raw(frame, tracked)
        if engine is not None:
            self._refresh_apps(engine)  # the final status carries the final counters
            self._save_states(engine)
            self._send_tracks(engine.finish_tracks())

    def _refresh_apps(self, engine: Engine) -> None:
        """The apps' counters and states in `status`, every half status interval rather
        than on every frame: `_report` sends them once a second."""
        self._apps_due = time.monotonic() + STATUS_INTERVAL_S / 2
        self.status.counters = {app.name: app.counters() for app in engine.apps}
        self.status.apps = self._app_statuses(engine)

    def _save_states(self, engine: Engine) -> None:
        """Keep the restorable apps' states and send them if they changed. An app whose
        snapshot failed keeps its previous state (the boundary reported why)."""
        self._states_due = time.monotonic() + self.spec.app_states_every_s
        states: dict[str, dict[str, Any]] = {}
        for app in engine.apps:
            if app.restorable:
                state = app.saved_state() or self._app_states.get(app.name)
                if state is not None:
                    states[app.name] = state
        self._app_states = states
        if states != self._states_sent:
            self._states_sent = states
            self._send(AppStates(self.camera.id, time.time(), states))

    def _restore_states(self, engine: Engine) -> None:
        """Start the new engine's apps from their saved states (a state an app refuses is
        logged in one line, and that app starts afresh)."""
        for app in engine.apps:
            saved = self._app_states.get(app.name)
            if saved is not None:
                app.restore_saved(saved)
        self._states_due = time.monotonic() + self.spec.app_states_every_s

    def _analysis_failed(self, error: str, exc_info: bool, dropped: bool = True) -> None:
        self._analysis_failures += int(dropped)
        line = " ".join(error.split())
        now = time.time()
        self._analysis_error = (now, line)
        key = line[:60]
        if now - self._error_logged.get(key, -1e9) >= ERROR_LOG_EVERY_S:
            self._error_logged[key] = now
            log.error(
                "camera %s: analysis failed, frame dropped: %s",
                self.camera.id,
                line,
                exc_info=exc_info,
            )

    def _build(self, size: tuple[int, int]) -> tuple[Engine, Annotator]:
        """The engine for pictures of `size` (width, height)."""
        config = self.spec.site.engine_config(self.camera)
        width, height = size
        if self.spec.detector is not None:
            # One request at a time (`Engine.process`): the batcher sees the truth, and the
            # service's statistics are keyed by camera.
            client = DetectorClient(
                self.spec.detector, self.camera.id, (height, width), in_flight=1
            )
            self._client = client
            detector: LetterboxingDetector = client
        else:
            detector = build_detector(config)
        # The static privacy polygons are left out of motion and detection.
        exclude = static_mask(self.camera.privacy, width, height)
        engine, scene = build_engine(config, size, detector, exclude=exclude)
        self._restore_states(engine)
        self._engine_size = size
        self._scene = scene
        self._app_specs = {s.name or s.type: s for s in self.camera.apps if s.enabled}
        return engine, _annotator(scene)

    # -- live reconfiguration ----------------------------------------------------------------

    def _control(self) -> None:
        """Take the supervisor's `Reconfigure` requests (the latest one wins) and live-view
        demand."""
        try:
            while True:
                message = self.spec.control.recv()
                if isinstance(message, Reconfigure):
                    with self._reconfigure_lock:
                        self._reconfigure = message
                elif isinstance(message, LiveDemand):
                    if message.wanted and not self._live_wanted:
                        self._last_live = 0.0  # a new viewer gets the next frame at once
                    self._live_wanted = message.wanted
                    self._unmasked_wanted = message.wanted and message.unmasked
        except (EOFError, OSError):
            pass  # the supervisor is gone or restarts this worker

    def _apply_reconfigure(self, engine: Engine | None, annotator: Annotator | None):
        """Between frames: run the requested scene; tell the supervisor how it went.

        The tracker is kept (tracks go on); apps whose config and shapes did not change are
        kept with their state; apps that went away finish, and the events they close are
        sent. On failure the running scene stays and the error is reported in one line.
        """
        with self._reconfigure_lock:
            request, self._reconfigure = self._reconfigure, None
        if request is None:
            return annotator
        error = None
        try:
            if engine is not None and self._scene is not None:
                annotator = self._swap_scene(engine, request.camera, request.rebuild)
            self.camera = request.camera
        except Exception as err:  # a bad scene must not end analysis: keep the running one
            error = error_line(err)
            log.error("camera %s: new scene not applied: %s", self.camera.id, error)
        else:
            log.info("camera %s: new scene applied", self.camera.id)
        self.status.apps = self._app_statuses(engine)
        self._send(Reconfigured(self.camera.id, request.generation, time.time(), error))
        return annotator

    def _swap_scene(
        self, engine: Engine, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> Annotator:
        old = self.camera
        assert self._scene is not None
        scene = build_scene(camera, self._scene.width, self._scene.height)
        engine.gate.motion.exclude = static_mask(camera.privacy, scene.width, scene.height)
        moved = changed_shapes(old.zones, camera.zones) | changed_shapes(old.lines, camera.lines)
        running = {app.name: app for app in engine.apps}
        apps: list[App] = []
        built: list[App] = []
        specs: dict[str, AppConfig] = {}
        try:
            for index, spec in enumerate(camera.apps):
                if not spec.enabled:
                    continue
                name = spec.name or spec.type
                current = running.get(name)
                if (
                    current is not None
                    and self._app_specs.get(name) == spec
                    and spec.type not in rebuild  # a new version was installed
                    and not mentions(spec.settings, moved)
                ):
                    apps.append(current)
                else:
                    try:
                        app = build_app(spec.type, name, spec.settings, scene)
                    except ValueError as err:  # ValidationError included
                        raise VigilError(f"apps[{index}] ({name}): {err}") from None
                    built.append(app)
                    apps.append(app)
                specs[name] = spec
        except BaseException:
            for app in built:
                _close(app)
            raise
        retired = [app for app in engine.apps if all(app is not a for a in apps)]
        ended = engine.swap_apps(apps)
        for app in retired:
            _close(app)
        wall = time.time()
        for event in ended:  # end events of removed apps, e.g. an open intrusion
            self._send(EventMessage(event, wall, None))
        self._scene, self._app_specs = scene, specs
        return _annotator(scene)

    def _app_statuses(self, engine: Engine | None) -> list[AppStatus]:
        running = {app.name: app for app in engine.apps} if engine is not None else {}
        out = []
        for spec in self.camera.apps:
            name = spec.name or spec.type
            app = running.get(name)
            if not spec.enabled:
                out.append(AppStatus(spec.type, name, False, "stopped"))
            elif app is None:
                out.append(AppStatus(spec.type, name, True, "starting"))
            else:
                # Sandboxed third-party apps report their child process; built-ins just run.
                # Either way the boundary adds its error counts and backoff.
                report = app.status() if callable(getattr(app, "status", None)) else {}
                out.append(
                    AppStatus(
                        spec.type,
                        name,
                        True,
                        report.get("state", "running"),
                        report.get("last_error"),
                        int(report.get("restarts", 0)),
                        app.counters(),
                        report.get("version"),
                        report.get("sandboxed"),
                        errors=int(report.get("errors", 0)),
                        rejected=int(report.get("rejected", 0)),
                        backoff_s=float(report.get("backoff_s", 0.0)),
                        memory_cgroup=report.get("memory_cgroup"),
                    )
                )
        return out

    def _frame_masks(self, frame: Frame) -> FrameMasks:
        """The masks of the camera's policy (as reconfigured) for this picture size."""
        masks, settings = self._masks, self.camera.privacy
        if (
            masks is None
            or masks.settings is not settings
            or masks.size != (frame.width, frame.height)
        ):
            masks = self._masks = FrameMasks(settings, frame.width, frame.height)
        return masks

    def _publish_raw(self, frame: Frame, tracked: Detections) -> None:
        wall = frame.wall_time or time.time()
        if wall - self._last_raw < RAW_FRAME_EVERY_S:
            return
        self._last_raw = wall
        image = self._frame_masks(frame).masked(frame.image, tracked)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
        if ok:
            self._send(RawFrame(self.camera.id, wall, frame.width, frame.height, jpeg.tobytes()))

    def _publish(self, result: FrameResult, annotator: Annotator, tracked: Detections) -> None:
        frame, objects = result.frame, result.objects
        wall = frame.wall_time or time.time()
        self._send(
            FrameMetadata(
                camera=self.camera.id,
                frame_index=frame.index,
                pts=frame.pts,
                wall_time=wall,
                width=frame.width,
                height=frame.height,
                objects=_tracked(objects),
            )
        )
        drawn: np.ndarray | None = None
        for event in result.events:
            snapshot = None
            if event.state in ("start", "instant"):
                drawn = drawn if drawn is not None else annotator.draw(frame.image, objects)
                snapshot = write_snapshot(self.snapshots, self.camera.id, event, drawn, tracked)
            self._send(EventMessage(event, wall, snapshot))
        if self._live_wanted and wall - self._last_live >= 1.0 / LIVE_FPS:
            self._last_live = wall
            self._publish_live(frame, objects, tracked, annotator)

    def _publish_live(
        self, frame: Frame, objects: Detections, tracked: Detections, annotator: Annotator
    ) -> None:
        """The live JPEG, masked as the policy says (overlays drawn over the masks); an
        unmasked one too only while someone entitled to it watches."""
        masks = self._frame_masks(frame)
        wall = frame.wall_time or time.time()
        masked = _jpeg(annotator.draw(masks.masked(frame.image, tracked), objects))
        unmasked = None
        if masks.masks_objects and self._unmasked_wanted:
            unmasked = _jpeg(annotator.draw(masks.unmasked(frame.image), objects))
        if masked is not None:
            self._send(LiveFrame(self.camera.id, wall, masked, unmasked))

    def _send_tracks(self, tracks: list[TrackSummary]) -> None:
        """Finished tracks' summaries to the writer (forensic search)."""
        if tracks:
            self._send(TrackSummaries(self.camera.id, tracks))

    def _send(self, message: object) -> None:
        if isinstance(message, CameraStatus):
            message = dataclasses.replace(message)  # a snapshot: the threads keep counting
        with contextlib.suppress(ValueError, OSError):  # the supervisor is gone
            self._sender(message)


def error_line(err: Exception) -> str:
    """What went wrong, in one line: a `VigilError` says it itself; anything else is named."""
    text = str(err) if isinstance(err, VigilError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())


def _jpeg(image: np.ndarray) -> bytes | None:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, LIVE_QUALITY])
    return jpeg.tobytes() if ok else None


def _tracked(objects: Detections) -> list[TrackedObject]:
    """The wire form of a frame's tracked objects (plain Python numbers: one `tolist` per
    column, not a numpy scalar per value)."""
    classes = objects.class_id.tolist()
    return [
        TrackedObject(t, c, COCO_CLASSES[c], p, (b[0], b[1], b[2], b[3]))
        for t, c, p, b in zip(
            objects.tracker_id.tolist(), classes, objects.confidence.tolist(), objects.xyxy.tolist()
        )
    ]


def _annotator(scene: Scene) -> Annotator:
    return Annotator(
        COCO_CLASSES,
        {name: np.asarray(z.points, np.float32) for name, z in scene.zones.items()},
        {name: (ln.start, ln.end) for name, ln in scene.lines.items()},
    )


def _close(app: App) -> None:
    """Release what an app holds (a sandboxed app's child process); built-ins hold nothing."""
    close = getattr(app, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("closing app %s failed", app.name)


def _close_engine(engine: Engine) -> None:
    """Release an engine being replaced: its detector client and its apps' resources."""
    with contextlib.suppress(Exception):
        getattr(engine.detector, "close", lambda: None)()
    for app in engine.apps:
        _close(app)


def _rate(times: list[float], now: float, window: float = 5.0) -> float:
    """Events per second over the last `window` seconds; trims the list in place."""
    while times and times[0] < now - window:
        times.pop(0)
    return len(times) / window if times else 0.0
