"""The shared detector service: one process runs inference for every camera worker.

- `DetectorService` (in the supervisor) spawns the service process, which loads the model once
  and listens on a Unix socket in a private directory.
- `DetectorClient` (in each camera worker, built from the picklable `DetectorHandle`)
  implements the `Detector` protocol. On connecting it gets a shared-memory ring of `slots`
  slots (default `in_flight + 1`), each big enough for its largest image. `detect` copies the
  images (frames or crops) into free slots and sends only ``(request id, [(offset, h, w)])``;
  the service runs detection on numpy views of the slots (pixels are never pickled) and
  answers with the boxes, scores and classes, plus how long the request queued and how long
  its batch took. A slot is free again once the answer (or an error) arrives.
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
import socket
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener, wait
from typing import Any

import numpy as np

from vigil.config.schema import DetectorConfig
from vigil.detection.base import Detector
from vigil.detection.detections import Detections
from vigil.errors import ModelError, VigilError
from vigil.service import shm

#: Seconds a client waits for an answer (or to connect) before giving up.
DEFAULT_TIMEOUT = 10.0
NOT_RESPONDING = "detector service not responding"
#: Segment names: ``vigil-det-<supervisor pid>-<token>-<service pid>-<client number>``.
SHM_PREFIX = "vigil-det-"
#: Recent request timings a client keeps for its metrics.
TIMINGS_KEPT = 1024


def _hang_up(conn: Connection) -> None:
    """Shut the socket down, then close it.

    Closing alone neither wakes a thread blocked in `recv` on it nor, while that thread holds
    it, tells the peer; a shutdown does both.
    """
    with (
        contextlib.suppress(OSError, ValueError),
        socket.socket(fileno=os.dup(conn.fileno())) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# --------------------------------------------------------------------------- supervisor side


@dataclass(frozen=True)
class DetectorHandle:
    """How a camera worker reaches the service; picklable, passed to workers at spawn."""

    address: str
    authkey: bytes = field(repr=False)
    #: The model's input size and letterbox rules, so `input_shape_for` needs no round trip.
    info: dict[str, Any] = field(default_factory=dict, compare=False)


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
        self._info: dict[str, Any] = {}
        self.starts = 0

    @property
    def address(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="vigil-detector-")  # 0700: only this user
        return os.path.join(self._dir, "detector.sock")

    @property
    def handle(self) -> DetectorHandle:
        return DetectorHandle(self.address, self._authkey, dict(self._info))

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
        ctx = mp.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
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
        process = ctx.Process(
            target=_serve, args=(settings, send), name="vigil-detector", daemon=True
        )
        process.start()
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
        if reply[0] == "error":
            process.join(5)
            _, kind, message = reply
            raise (ModelError if kind == "ModelError" else VigilError)(message)
        self._info = reply[2]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its socket and segments."""
        self._drop_control()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(timeout)
            if process.is_alive():
                self._kill()
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
                    self._control = _connect(self.handle, ("control",), timeout)[0]
                self._control.send(("stats",))
                if not self._control.poll(timeout):
                    raise TimeoutError
                return self._control.recv()[1]
            except (OSError, EOFError, TimeoutError, VigilError):
                self._drop_control_locked()
                raise VigilError(f"{NOT_RESPONDING} (no stats within {timeout:g} s)") from None

    def _drop_control(self) -> None:
        with self._control_lock:
            self._drop_control_locked()

    def _drop_control_locked(self) -> None:
        if self._control is not None:
            _hang_up(self._control)
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
        input_size=tuple(config.input_size),
        conf_threshold=config.confidence,
        nms_iou=config.nms_iou,
        classes=class_ids(config.classes),
        threads=threads,
        decoder=config.decoder,
    )


def _serve(settings: _Settings, ready: Connection) -> None:
    """The service process: load the model, accept clients, batch and detect until stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        factory = settings.detector_factory or build_service_detector
        detector = factory(settings.config, settings.threads)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(settings.address)  # a killed predecessor's socket
        listener = Listener(settings.address, "AF_UNIX", authkey=settings.authkey)
    except Exception as e:  # reported to the supervisor as one line
        ready.send(("error", type(e).__name__, _one_line(e)))
        return
    server = _Server(detector, settings)
    server.start(listener)
    ready.send(("ready", os.getpid(), server.info))
    ready.close()
    parent = mp.parent_process()
    sentinels = [parent.sentinel] if parent is not None else []
    while not stopping.is_set():
        if sentinels and wait(sentinels, timeout=0.5):
            break  # the supervisor died: do not outlive it
        if not sentinels:
            stopping.wait(0.5)
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

    def send(self, message: tuple) -> bool:
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
        self.info = {
            "input_size": getattr(detector, "input_size", None),
            "dynamic": getattr(detector, "dynamic", True),
            "upscale": getattr(detector, "upscale", False),
        }

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
            first = peer.conn.recv()
            if first[0] == "control":
                peer.control = True
            elif first[0] != "hello" or not self._hello(peer, *first[1:]):
                return
            with self._cond:
                if self._stopping:
                    return
                self._peers.add(peer)
            while True:
                message = peer.conn.recv()
                if message[0] == "detect":
                    self._enqueue(peer, message[1], message[2])
                elif message[0] == "stats":
                    peer.send(("stats", self.stats()))
        except Exception:  # noqa: BLE001 - gone, or spoke nonsense: either way it is dropped
            pass
        finally:
            self._disconnect(peer)

    def _hello(self, peer: _Peer, client_id: str, slots: int, slot_bytes: int, in_flight: int):
        peer.client_id = str(client_id)
        peer.in_flight = max(1, int(in_flight))
        # The service's pid keeps names unique across restarts (a late unlink by a client
        # of the previous incarnation cannot hit a new segment).
        name = f"{self.settings.shm_prefix}{os.getpid()}-{peer.number}"
        size = int(slots) * int(slot_bytes)
        try:
            peer.segment = shm.Segment(name, create=True, size=size)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else _one_line(e)
            peer.send(
                (
                    "refused",
                    f"cannot allocate {size / 2**20:.1f} MiB of shared memory in {shm.SHM_DIR} "
                    f"for client {peer.client_id} ({reason}); give the container more shm",
                )
            )
            return False
        return peer.send(("welcome", name, self.info))

    def _disconnect(self, peer: _Peer) -> None:
        with self._cond:
            self._peers.discard(peer)
            peer.closed = True
            self._cond.notify_all()
        with peer.send_lock:
            _hang_up(peer.conn)
        if peer.segment is not None:
            peer.segment.unlink()
            peer.segment.close()  # unmapped once the last in-flight view is dropped

    def _enqueue(self, peer: _Peer, request_id: int, entries: Sequence[tuple[int, int, int]]):
        try:
            if peer.segment is None:
                raise ValueError("no shared memory: the client did not say hello")
            images = [peer.segment.view(int(o), (int(h), int(w), 3)) for o, h, w in entries]
        except (ValueError, TypeError) as e:
            peer.stats["errors"] += 1
            peer.send(("error", request_id, f"bad request: {_one_line(e)}"))
            return
        with self._cond:
            peer.outstanding += 1
            self._pending.append(_Request(peer, request_id, images, time.perf_counter()))
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
                answer = _result_message(
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

    def _run_alone(self, request: _Request, queued_until: float) -> tuple:
        """A batch failed: run this request by itself, to answer with its own error."""
        started = time.perf_counter()
        try:
            found = self.detector.detect(request.images or [])
        except Exception as e:  # noqa: BLE001 - the client gets it as one line
            return ("error", request.request_id, _one_line(e))
        queued_ms = (queued_until - request.arrived) * 1000
        inference_ms = (time.perf_counter() - started) * 1000
        count = len(request.images or ())
        return _result_message(request.request_id, found, queued_ms, inference_ms, count, 1)

    def _answer(self, request: _Request, answer: tuple) -> None:
        peer = request.peer
        with self._cond:
            peer.outstanding -= 1
            stats = peer.stats
            stats["requests"] += 1
            if answer[0] == "result":
                stats["images"] += len(answer[2])
                stats["queued_ms_total"] += answer[6]
                stats["queued_ms_max"] = max(stats["queued_ms_max"], answer[6])
                stats["inference_ms_total"] += answer[7]
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


def _result_message(
    request_id: int,
    found: Sequence[Detections],
    queued_ms: float,
    inference_ms: float,
    batch_images: int,
    batch_requests: int,
) -> tuple:
    merged = Detections.merge(list(found))
    counts = [len(d) for d in found]
    return (
        "result",
        request_id,
        counts,
        merged.xyxy,
        merged.confidence,
        merged.class_id,
        queued_ms,
        inference_ms,
        batch_images,
        batch_requests,
    )


# --------------------------------------------------------------------------- camera side


def _connect(
    handle: DetectorHandle, hello: tuple, timeout: float
) -> tuple[Connection, tuple | None]:
    """Connect, authenticate and say hello within `timeout`; returns the reply to a hello.

    The connect runs on a helper thread, so a hung service (which may accept but never answer
    the authentication) costs `timeout` rather than a hang.
    """
    box: dict[str, Any] = {}

    def attempt() -> None:
        try:
            conn = Client(handle.address, "AF_UNIX", authkey=handle.authkey)
            box["conn"] = conn
            conn.send(hello)
            if hello[0] == "hello":
                box["reply"] = conn.recv()
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            box["error"] = e

    thread = threading.Thread(target=attempt, name="vigil-detector-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise VigilError(f"{NOT_RESPONDING} (no answer to connect within {timeout:g} s)")
    if "error" in box:
        with contextlib.suppress(Exception):
            box["conn"].close()
        reason = _one_line(box["error"])
        raise VigilError(f"{NOT_RESPONDING} (cannot connect: {reason})")
    return box["conn"], box.get("reply")


@dataclass(frozen=True, slots=True)
class Timing:
    """How one request went, for metrics."""

    latency_ms: float  # round trip seen by the camera: copy in, queue, batch, answer
    queued_ms: float  # waiting in the service until its batch started
    inference_ms: float  # the whole batch's detect call
    batch_images: int  # images in that batch, from all cameras
    batch_requests: int  # requests (cameras' calls) in that batch


class _Waiter:
    __slots__ = ("conn", "event", "message")

    def __init__(self, conn: Connection):
        self.conn = conn
        self.event = threading.Event()
        self.message: tuple | None = None

    def set(self, message: tuple) -> None:
        self.message = message
        self.event.set()


class DetectorClient:
    """The `Detector` a camera worker uses: detection runs in the shared service.

    Thread-safe: `detect` may be called from `in_flight` threads at once (the engine's
    `in_flight`; 1 for a caller that waits for each result, like `Engine.process`). The
    service's batching wait ends once every camera has `in_flight` requests pending, so say
    what is true.

    Images up to `max_image_shape` (h, w[, 3]: the camera's frame size) are accepted; several
    small ones (crops) share a slot. Without it, the slots are sized (and the service
    connected) at the first `detect`, for the largest image of that call. Every call answers
    within `timeout` seconds or raises `VigilError` ("detector service not responding ...");
    after the service dies, the next call reconnects (to a service restarted at the same
    address) or raises at once.
    """

    def __init__(
        self,
        handle: DetectorHandle,
        client_id: str | None = None,
        max_image_shape: Sequence[int] | None = None,
        *,
        in_flight: int = 2,
        slots: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.handle = handle
        self.client_id = client_id or f"pid-{os.getpid()}"
        self.in_flight = max(1, in_flight)
        self.timeout = timeout
        self._slots = slots or self.in_flight + 1
        self.max_image_shape: tuple[int, int, int] | None = None
        self._ring: shm.SlotRing | None = None
        self._lock = threading.Lock()  # connection state, pending answers, stats
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Waiter] = {}
        self._conn: Connection | None = None
        self._segment: shm.Segment | None = None
        self._info: dict[str, Any] = dict(handle.info)
        self._closed = False
        self._timings: deque[Timing] = deque(maxlen=TIMINGS_KEPT)
        self.requests = 0
        self.timeouts = 0
        self.errors = 0
        self.reconnects = 0
        if max_image_shape is not None:
            self._size_ring(int(max_image_shape[0]), int(max_image_shape[1]))

    def _size_ring(self, height: int, width: int) -> None:
        with self._lock:
            if self._ring is not None:
                return
            if height < 1 or width < 1:
                raise ValueError(f"max_image_shape must be positive, not {(height, width)}")
            self.max_image_shape = (height, width, 3)
            self._ring = shm.SlotRing(self._slots, height * width * 3)
            self._open()

    # ---- the Detector protocol

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """One `Detections` per image, boxes in that image's pixels (see `Detector`)."""
        images = list(images)
        results = [Detections.empty() for _ in images]
        todo = []
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"image {i}: expected BGR uint8 (H, W, 3), got {image.dtype} {image.shape}"
                )
            if image.shape[0] and image.shape[1]:
                todo.append(i)
        if not todo:
            return results
        if self._ring is None:
            largest = max((images[i] for i in todo), key=lambda im: im.nbytes)
            self._size_ring(*largest.shape[:2])
        ring = self._ring
        assert ring is not None and self.max_image_shape is not None
        for i in todo:
            if images[i].nbytes > ring.slot_bytes:
                h, w = self.max_image_shape[:2]
                raise ValueError(
                    f"image {i}: {images[i].shape[1]}x{images[i].shape[0]} is larger than "
                    f"this detector client's {w}x{h} slots (see max_image_shape)"
                )
        placed = shm.pack([images[i].nbytes for i in todo], ring.slot_bytes)
        count = ring.count
        for chunk in range(placed[-1][0] // count + 1 if placed else 0):
            items = [
                (i, slot % count, offset)
                for i, (slot, offset) in zip(todo, placed)
                if slot // count == chunk
            ]
            found = self._request(images, items)
            for (i, _, _), dets in zip(items, found):
                results[i] = dets
        return results

    def input_shape_for(self, width: int, height: int) -> tuple[int, int]:
        """The network input (w, h) the service letterboxes a `width`×`height` image into."""
        from vigil.detection.letterbox import plan_letterbox

        size = self._info.get("input_size")
        if size is None:
            raise VigilError("the detector service did not say its input size")
        return plan_letterbox(
            width,
            height,
            tuple(size),
            rect=bool(self._info.get("dynamic", True)),
            upscale=bool(self._info.get("upscale", False)),
        ).padded

    # ---- metrics

    @property
    def outstanding(self) -> int:
        """Requests of this camera waiting for an answer now (its detector queue depth)."""
        with self._lock:
            return len(self._pending)

    def timings(self, clear: bool = True) -> list[Timing]:
        """Timings of the requests answered since the last call (up to `TIMINGS_KEPT`)."""
        with self._lock:
            out = list(self._timings)
            if clear:
                self._timings.clear()
            return out

    # ---- life cycle

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conn = self._conn
        if conn is not None:
            self._drop(conn, "client closed")

    def __enter__(self) -> DetectorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals

    def _open(self) -> None:
        """Connect (under `_lock`): get a segment for the ring, start the receiver."""
        ring = self._ring
        assert ring is not None
        hello = ("hello", self.client_id, ring.count, ring.slot_bytes, self.in_flight)
        conn, reply = _connect(self.handle, hello, self.timeout)
        try:
            if not reply or reply[0] != "welcome":
                reason = reply[1] if reply and reply[0] == "refused" else "unexpected reply"
                raise VigilError(f"detector service refused client {self.client_id}: {reason}")
            _, name, info = reply
            try:
                segment = shm.Segment(name)
            except OSError as e:
                raise VigilError(f"{NOT_RESPONDING} (cannot map {name}: {e.strerror})") from None
            if segment.size < ring.nbytes:
                segment.close()
                raise VigilError(f"detector service gave client {self.client_id} too small a ring")
        except BaseException:
            conn.close()
            raise
        self._conn, self._segment, self._info = conn, segment, info
        threading.Thread(
            target=self._receive, args=(conn,), name="vigil-detector-receive", daemon=True
        ).start()

    def _connection(self) -> tuple[Connection, shm.Segment]:
        with self._lock:
            if self._closed:
                raise VigilError(f"detector client {self.client_id} is closed")
            if self._conn is None:
                self._open()
                self.reconnects += 1
            assert self._segment is not None
            return self._conn, self._segment

    def _receive(self, conn: Connection) -> None:
        try:
            while True:
                message = conn.recv()
                with self._lock:
                    waiter = self._pending.get(message[1])
                if waiter is not None:  # None: an answer after its caller timed out
                    waiter.set(message)
        except Exception:  # noqa: BLE001 - EOF, a closed socket, or garbage: the line is dead
            pass
        self._drop(conn, "connection closed")

    def _drop(self, conn: Connection, reason: str) -> None:
        """Forget a dead connection: fail its waiting calls, unmap and unlink its segment."""
        with self._lock:
            if self._conn is not conn:
                return
            segment, self._conn, self._segment = self._segment, None, None
            waiters = [w for w in self._pending.values() if w.conn is conn]
        with self._send_lock:
            _hang_up(conn)
        for waiter in waiters:
            waiter.set(("lost", 0, reason))
        if segment is not None:
            segment.unlink()  # the service's job, unless it died
            segment.close()

    def _request(
        self, images: list[np.ndarray], items: list[tuple[int, int, int]]
    ) -> list[Detections]:
        """Send images (index, slot in chunk, offset in slot) as one request; its answer."""
        began = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        conn, segment = self._connection()
        ring = self._ring
        assert ring is not None
        wanted = max(s for _, s, _ in items) + 1
        slots = ring.acquire(wanted, max(0.0, deadline - time.monotonic()))
        if slots is None:
            self._count("timeouts")
            raise VigilError(f"{NOT_RESPONDING} (no free slot within {self.timeout:g} s)")
        request_id = next(self._ids)
        try:
            entries = []
            for i, slot, offset in items:
                image = images[i]
                at = ring.offset(slots[slot]) + offset
                try:
                    np.copyto(segment.view(at, image.shape), image)
                except ValueError:  # the segment was closed: the connection just dropped
                    self._count("errors")
                    raise VigilError(f"{NOT_RESPONDING} (connection closed)") from None
                entries.append((at, image.shape[0], image.shape[1]))
            waiter = _Waiter(conn)
            with self._lock:
                self._pending[request_id] = waiter
                self.requests += 1
            try:
                with self._send_lock:
                    conn.send(("detect", request_id, entries))
            except (OSError, ValueError):
                self._count("errors")
                raise VigilError(f"{NOT_RESPONDING} (connection closed)") from None
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                self._count("timeouts")
                raise VigilError(f"{NOT_RESPONDING} (no answer within {self.timeout:g} s)")
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
            ring.release(slots)
        message = waiter.message
        assert message is not None
        if message[0] != "result":
            self._count("errors")
            if message[0] == "lost":
                raise VigilError(f"{NOT_RESPONDING} ({message[2]})")
            raise VigilError(f"detector service: {message[2]}")
        _, _, counts, xyxy, confidence, class_id, queued_ms, inference_ms, n, r = message
        timing = Timing((time.perf_counter() - began) * 1000, queued_ms, inference_ms, n, r)
        with self._lock:
            self._timings.append(timing)
        found, start = [], 0
        for k in counts:
            end = start + k
            found.append(Detections(xyxy[start:end], confidence[start:end], class_id[start:end]))
            start = end
        return found

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
