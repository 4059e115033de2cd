"""The shared detector service: one process runs inference for every camera worker.

- `DetectorService` (in the supervisor) spawns the service process, which loads the model once
  and listens on a Unix socket in a private directory.
- `DetectorClient` (`vigil.service.detector.client`, in each camera worker, built from the
  picklable `DetectorHandle`) implements the `Detector` protocol. On connecting it gets a
  shared-memory ring of `slots` slots (default `in_flight + 1`), each big enough for its
  largest image. `detect` copies the images (frames or crops) into free slots and sends only
  a `DetectRequest` naming their offsets; the service runs detection on numpy views of the
  slots (pixels are never pickled) and answers with a `DetectResult`: the boxes, scores and
  classes, plus how long the request queued and how long its batch took (the messages are in
  `vigil.service.detector.messages`).
- The service batches across cameras: a worker thread takes the oldest pending request and
  what is pending behind it, up to `max_batch` images, and runs them through one
  `OnnxDetector.detect` call, which batches images of equal padded shape (full frames of
  equal-sized cameras and their motion crops share one: crops are the frame's input shape).
  It leaves a share of the pending requests to idle workers and, while any worker is idle,
  does not wait for more; only when every other worker is busy does it wait up to
  `max_wait_ms` after its first request arrived for others to join (DeepStream's timeout),
  and not even then once no camera can send another (each is at its `in_flight`). On a CPU
  an idle worker is an idle core: running requests side by side beats batching them, so
  under light load requests run alone at once and under heavy load batches grow.

Why a socket per client instead of one shared `multiprocessing.Queue`: a queue's writers share
one pipe and one lock, so a worker killed in the middle of a `put` can leave the lock held or
half a message in the pipe, stalling or corrupting every camera. With a connection per client,
a killed worker only closes its own socket: the service drops its pending requests and
unlinks its segment. A client likewise sees its socket close the moment the service dies and
fails at once instead of waiting out its timeout; a hung service is caught by the timeout.

Shared memory belongs to the service, which creates each client's segment and unlinks it when
the client disconnects; a client unlinks it when the service dies; `DetectorService.stop`
sweeps whatever a killed service left, and `start` sweeps what killed supervisors left.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, Listener
from typing import Any

import numpy as np

from vigil.config.schema import DetectorConfig
from vigil.detection.base import Detector
from vigil.detection.detections import Detections
from vigil.errors import ModelError, VigilError
from vigil.service import shm
from vigil.service.detector.messages import (
    NOT_RESPONDING,
    ClientMessage,
    ControlHello,
    DetectFailed,
    DetectorHandle,
    DetectRequest,
    DetectResult,
    Hello,
    ModelInfo,
    Ready,
    Refused,
    ServiceMessage,
    StartFailed,
    StatsReply,
    StatsRequest,
    Welcome,
    connect,
    hang_up,
    one_line,
)
from vigil.service.processes import pipe, start_process, stop_processes, watch_parent

#: Segment names: ``vigil-det-<supervisor pid>-<token>-<service pid>-<client number>``.
SHM_PREFIX = "vigil-det-"


# --------------------------------------------------------------------------- supervisor side


@dataclass(frozen=True)
class _Settings:
    """Everything the service process needs (pickled once, at spawn)."""

    config: DetectorConfig
    address: str
    authkey: bytes
    shm_prefix: str
    max_batch: int
    max_wait_ms: float
    workers: int
    threads: int
    detector_factory: Callable[[DetectorConfig, int], Detector] | None


class DetectorService:
    """The detector process, as the supervisor sees it: start, stop, restart, stats.

    `threads` are onnxruntime's intra-op threads for one inference and `workers` the batches
    run at once, each on its own thread (default: the config's `threads` and `workers`; on a
    small CPU two single-threaded workers beat one two-threaded one). `detector_factory`
    (a picklable callable ``(config, threads) -> Detector``) replaces the ONNX detector, for
    tests and benchmarks.
    """

    def __init__(
        self,
        config: DetectorConfig,
        *,
        max_batch: int = 8,
        max_wait_ms: float = 10.0,
        workers: int | None = None,
        threads: int | None = None,
        detector_factory: Callable[[DetectorConfig, int], Detector] | None = None,
    ):
        self.config = config
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.workers = workers or config.workers
        self.threads = threads or config.threads
        if max_batch < 1 or self.workers < 1 or self.threads < 1 or max_wait_ms < 0:
            raise ValueError("max_batch, workers and threads must be >= 1, max_wait_ms >= 0")
        self._factory = detector_factory
        self._authkey = secrets.token_bytes(32)
        self._shm_prefix = f"{SHM_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-"
        self._dir: str | None = None
        self._process: mp.process.BaseProcess | None = None
        self._control: Connection | None = None
        self._control_lock = threading.Lock()
        self._info = ModelInfo()
        self.device = ""  # where the model runs and why, once started (`DeviceChoice`)
        self.starts = 0

    @property
    def address(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="vigil-detector-")  # 0700: only this user
        return os.path.join(self._dir, "detector.sock")

    @property
    def handle(self) -> DetectorHandle:
        return DetectorHandle(self.address, self._authkey, self._info)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode if self._process is not None else None

    def start(self, timeout: float = 60.0) -> None:
        """Start (or restart after a death) and wait until the model is loaded.

        Raises `ModelError` for a bad model and `VigilError` if the process fails to come up.
        """
        if self.alive:
            return
        self._drop_control()
        shm.sweep(SHM_PREFIX, stale_pids=True)  # what killed supervisors left behind
        shm.sweep(self._shm_prefix)  # what a previous, killed, service left behind
        receive, send = pipe()
        settings = _Settings(
            self.config,
            self.address,
            self._authkey,
            self._shm_prefix,
            self.max_batch,
            self.max_wait_ms,
            self.workers,
            self.threads,
            self._factory,
        )
        process = start_process(_serve, (settings, send), "vigil-detector")
        send.close()
        self._process = process
        self.starts += 1
        try:
            if not receive.poll(timeout):
                self._kill()
                raise VigilError(f"detector service did not start within {timeout:g} s")
            reply = receive.recv()
        except EOFError:
            process.join(5)
            raise VigilError(
                f"detector service exited while starting (exit code {process.exitcode})"
            ) from None
        finally:
            receive.close()
        if isinstance(reply, StartFailed):
            process.join(5)
            raise (ModelError if reply.kind == "ModelError" else VigilError)(reply.error)
        self._info = reply.info
        self.device = reply.device

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its socket and segments."""
        self._drop_control()
        if self._process is not None:
            stop_processes([self._process], timeout)
        shm.sweep(self._shm_prefix)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)

    def stats(self, timeout: float = 2.0) -> dict[str, Any]:
        """Batch-size histogram and per-client queue depth and latency, from the process."""
        with self._control_lock:
            try:
                if self._control is None:
                    self._control = connect(self.handle, ControlHello(), timeout)[0]
                self._control.send(StatsRequest())
                if not self._control.poll(timeout):
                    raise TimeoutError
                reply: StatsReply = self._control.recv()
                return reply.stats
            except (OSError, EOFError, TimeoutError, VigilError):
                self._drop_control_locked()
                raise VigilError(f"{NOT_RESPONDING} (no stats within {timeout:g} s)") from None

    def _drop_control(self) -> None:
        with self._control_lock:
            self._drop_control_locked()

    def _drop_control_locked(self) -> None:
        if self._control is not None:
            hang_up(self._control)
            self._control = None

    def __enter__(self) -> DetectorService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- service process


def build_service_detector(config: DetectorConfig, threads: int) -> Detector:
    """The ONNX detector as `vigil.pipeline.build.build_detector` makes it, with `threads`."""
    from vigil.detection.onnx_backend import OnnxDetector
    from vigil.pipeline.build import class_ids

    return OnnxDetector(
        config.model,
        input_size=(config.input_size[0], config.input_size[1]),
        conf_threshold=config.confidence,
        nms_iou=config.nms_iou,
        classes=class_ids(config.classes),
        threads=threads,
        decoder=config.decoder,
        device=config.device,
    )


def _serve(settings: _Settings, ready: Connection) -> None:
    """The service process: load the model, accept clients, batch and detect until stopped."""
    stopping = threading.Event()
    # Safe in a handler: the main thread below never holds (waits on) the event's lock.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    watch_parent()  # SIGTERM when the supervisor is gone: do not outlive it
    try:
        factory = settings.detector_factory or build_service_detector
        detector = factory(settings.config, settings.threads)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(settings.address)  # a killed predecessor's socket
        listener = Listener(settings.address, "AF_UNIX", authkey=settings.authkey)
    except Exception as e:  # reported to the supervisor as one line
        ready.send(StartFailed(type(e).__name__, one_line(e)))
        return
    server = _Server(detector, settings)
    server.start(listener)
    choice = getattr(detector, "device_choice", None)  # test factories may not say
    ready.send(Ready(os.getpid(), server.info, choice.describe() if choice else ""))
    ready.close()
    while not stopping.is_set():
        time.sleep(0.25)
    server.shutdown()
    listener.close()


class _Peer:
    """One connection to the service: a camera's client, or the supervisor's control line."""

    def __init__(self, conn: Connection, number: int):
        self.conn = conn
        self.number = number
        self.client_id = f"#{number}"
        self.segment: shm.Segment | None = None
        self.in_flight = 1
        self.outstanding = 0  # requests received and not yet answered (under _Server._cond)
        self.closed = False
        self.control = False
        self.send_lock = threading.Lock()
        self.stats: dict[str, float] = {
            "requests": 0,
            "images": 0,
            "errors": 0,
            "queued_ms_total": 0.0,
            "queued_ms_max": 0.0,
            "inference_ms_total": 0.0,
        }

    def send(self, message: ServiceMessage) -> bool:
        with self.send_lock:
            if self.closed:
                return False
            try:
                self.conn.send(message)
            except (OSError, ValueError):
                return False
            return True


@dataclass(slots=True)
class _Request:
    peer: _Peer
    request_id: int
    images: list[np.ndarray] | None
    arrived: float


class _Server:
    def __init__(self, detector: Detector, settings: _Settings):
        self.detector = detector
        self.settings = settings
        self.max_batch = settings.max_batch
        self.max_wait = settings.max_wait_ms / 1000
        self._cond = threading.Condition()
        self._gather = threading.Lock()
        self._pending: deque[_Request] = deque()
        self._peers: set[_Peer] = set()
        self._numbers = itertools.count(1)
        self._stopping = False
        self._busy = 0  # workers running a batch
        self._started = time.time()
        self._batches: Counter[int] = Counter()
        size = getattr(detector, "input_size", None)
        self.info = ModelInfo(
            input_size=(int(size[0]), int(size[1])) if size is not None else None,
            dynamic=bool(getattr(detector, "dynamic", True)),
            upscale=bool(getattr(detector, "upscale", False)),
        )

    def start(self, listener: Listener) -> None:
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        for k in range(self.settings.workers):
            threading.Thread(target=self._work, name=f"detect-{k}", daemon=True).start()

    def shutdown(self) -> None:
        with self._cond:
            self._stopping = True
            peers = list(self._peers)
            self._cond.notify_all()
        for peer in peers:
            self._disconnect(peer)

    # ---- connections

    def _accept(self, listener: Listener) -> None:
        while True:
            try:
                conn = listener.accept()
            except (OSError, EOFError):
                if self._stopping:
                    return
                continue  # a client that died or failed authentication while connecting
            except Exception:  # noqa: BLE001 - e.g. AuthenticationError: keep serving others
                continue
            peer = _Peer(conn, next(self._numbers))
            threading.Thread(target=self._read, args=(peer,), daemon=True).start()

    def _read(self, peer: _Peer) -> None:
        try:
            first: ClientMessage = peer.conn.recv()
            if isinstance(first, ControlHello):
                peer.control = True
            elif not isinstance(first, Hello) or not self._hello(peer, first):
                return
            with self._cond:
                if self._stopping:
                    return
                self._peers.add(peer)
            while True:
                message: ClientMessage = peer.conn.recv()
                if isinstance(message, DetectRequest):
                    self._enqueue(peer, message)
                elif isinstance(message, StatsRequest):
                    peer.send(StatsReply(self.stats()))
        except Exception:  # noqa: BLE001 - gone, or spoke nonsense: either way it is dropped
            pass
        finally:
            self._disconnect(peer)

    def _hello(self, peer: _Peer, hello: Hello) -> bool:
        peer.client_id = str(hello.client_id)
        peer.in_flight = max(1, int(hello.in_flight))
        # The service's pid keeps names unique across restarts (a late unlink by a client
        # of the previous incarnation cannot hit a new segment).
        name = f"{self.settings.shm_prefix}{os.getpid()}-{peer.number}"
        size = int(hello.slots) * int(hello.slot_bytes)
        try:
            peer.segment = shm.Segment(name, create=True, size=size)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else one_line(e)
            peer.send(
                Refused(
                    f"cannot allocate {size / 2**20:.1f} MiB of shared memory in {shm.SHM_DIR} "
                    f"for client {peer.client_id} ({reason}); give the container more shm"
                )
            )
            return False
        return peer.send(Welcome(name, self.info))

    def _disconnect(self, peer: _Peer) -> None:
        with self._cond:
            self._peers.discard(peer)
            peer.closed = True
            self._cond.notify_all()
        with peer.send_lock:
            hang_up(peer.conn)
        if peer.segment is not None:
            peer.segment.unlink()
            peer.segment.close()  # unmapped once the last in-flight view is dropped

    def _enqueue(self, peer: _Peer, request: DetectRequest) -> None:
        segment = peer.segment
        try:
            if segment is None:
                raise ValueError("no shared memory: the client did not say hello")
            images = [segment.view(int(o), (int(h), int(w), 3)) for o, h, w in request.images]
        except (ValueError, TypeError) as e:
            peer.stats["errors"] += 1
            peer.send(DetectFailed(request.request_id, f"bad request: {one_line(e)}"))
            return
        with self._cond:
            peer.outstanding += 1
            self._pending.append(_Request(peer, request.request_id, images, time.perf_counter()))
            self._cond.notify_all()

    # ---- batching

    def _saturated(self) -> bool:
        """No connected camera can send another request before one of its answers."""
        return all(p.outstanding >= p.in_flight for p in self._peers if not p.control)

    def _pop_live(self) -> _Request | None:
        while self._pending:
            request = self._pending.popleft()
            if not request.peer.closed:
                return request
            request.peer.outstanding -= 1
        return None

    def _next_batch(self) -> list[_Request]:
        """The next batch: the oldest request and what can join it.

        A batch never starves an idle worker: with workers idle besides this one, it takes
        only its share of what is pending, and it does not wait for more (an idle worker is
        an idle core; running requests side by side beats batching them). With every other
        worker busy it gathers up to `max_batch` images, waiting up to `max_wait` after its
        first request arrived, unless no camera can send another request.
        """
        # One worker gathers at a time, so others run their batches meanwhile.
        with self._gather, self._cond:
            while (first := self._pop_live()) is None:
                if self._stopping:
                    return []
                self._cond.wait()
            batch, images = [first], len(first.images or ())
            deadline = first.arrived + self.max_wait
            while images < self.max_batch and not self._stopping:
                idle = self.settings.workers - self._busy - 1  # besides this one
                if self._pending:
                    head = self._pending[0]
                    if head.peer.closed:
                        self._pop_live()
                        continue
                    size = len(head.images or ())
                    if images + size > self.max_batch:
                        break
                    if idle > 0:
                        waiting = sum(len(r.images or ()) for r in self._pending)
                        if images >= math.ceil((images + waiting) / (idle + 1)):
                            break  # the rest is for the idle workers
                    batch.append(self._pending.popleft())
                    images += size
                    continue
                if idle > 0 or self._saturated():
                    break
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._busy += 1
            return batch

    def _work(self) -> None:
        while batch := self._next_batch():
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _run(self, batch: list[_Request]) -> None:
        images = [image for r in batch for image in r.images or ()]
        started = time.perf_counter()
        try:
            found: list[Detections] | None = self.detector.detect(images)
        except Exception:  # noqa: BLE001 - find which request is at fault, below
            found = None
        finished = time.perf_counter()
        del images
        inference_ms = (finished - started) * 1000
        n_images = sum(len(r.images or ()) for r in batch)
        with self._cond:
            self._batches[n_images] += 1
        start = 0
        for request in batch:
            count = len(request.images or ())
            if found is not None:
                answer: DetectResult | DetectFailed = _result(
                    request.request_id,
                    found[start : start + count],
                    (started - request.arrived) * 1000,
                    inference_ms,
                    n_images,
                    len(batch),
                )
            else:
                answer = self._run_alone(request, started)
            start += count
            request.images = None  # drop the views before the client may reuse the slots
            self._answer(request, answer)

    def _run_alone(self, request: _Request, queued_until: float) -> DetectResult | DetectFailed:
        """A batch failed: run this request by itself, to answer with its own error."""
        started = time.perf_counter()
        try:
            found = self.detector.detect(request.images or [])
        except Exception as e:  # noqa: BLE001 - the client gets it as one line
            return DetectFailed(request.request_id, one_line(e))
        queued_ms = (queued_until - request.arrived) * 1000
        inference_ms = (time.perf_counter() - started) * 1000
        count = len(request.images or ())
        return _result(request.request_id, found, queued_ms, inference_ms, count, 1)

    def _answer(self, request: _Request, answer: DetectResult | DetectFailed) -> None:
        peer = request.peer
        with self._cond:
            peer.outstanding -= 1
            stats = peer.stats
            stats["requests"] += 1
            if isinstance(answer, DetectResult):
                stats["images"] += len(answer.counts)
                stats["queued_ms_total"] += answer.queued_ms
                stats["queued_ms_max"] = max(stats["queued_ms_max"], answer.queued_ms)
                stats["inference_ms_total"] += answer.inference_ms
            else:
                stats["errors"] += 1
        peer.send(answer)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            batches = dict(sorted(self._batches.items()))
            clients = {}
            for p in self._peers:
                if p.control:
                    continue
                s = dict(p.stats)
                done = max(1, s["requests"] - s["errors"])
                s["queue_depth"] = p.outstanding
                s["queued_ms_mean"] = s.pop("queued_ms_total") / done
                s["inference_ms_mean"] = s.pop("inference_ms_total") / done
                clients[p.client_id] = s
            pending = len(self._pending)
        n = sum(batches.values())
        return {
            "pid": os.getpid(),
            "uptime_s": time.time() - self._started,
            "batches": n,
            "images": sum(k * v for k, v in batches.items()),
            "mean_batch": sum(k * v for k, v in batches.items()) / n if n else 0.0,
            "batch_sizes": batches,
            "pending": pending,
            "clients": clients,
        }


def _result(
    request_id: int,
    found: Sequence[Detections],
    queued_ms: float,
    inference_ms: float,
    batch_images: int,
    batch_requests: int,
) -> DetectResult:
    merged = Detections.merge(list(found))
    return DetectResult(
        request_id,
        tuple(len(d) for d in found),
        merged.xyxy,
        merged.confidence,
        merged.class_id,
        queued_ms,
        inference_ms,
        batch_images,
        batch_requests,
    )
