"""The `Detector` a camera worker uses: detection runs in the shared detector service.

`detect` copies the images (frames or crops) into free slots of a shared-memory ring and
sends only their offsets (`DetectRequest`); the service answers with the boxes, scores and
classes (`DetectResult`), plus how long the request queued and how long its batch took. A slot
is free again once the answer (or an error) arrives. See `vigil.service.detector.server` for
why each client has a socket of its own.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from vigil.detection.detections import Detections
from vigil.errors import VigilError
from vigil.service import shm
from vigil.service.detector.messages import (
    NOT_RESPONDING,
    DetectFailed,
    DetectorHandle,
    DetectRequest,
    DetectResult,
    Hello,
    ModelInfo,
    Refused,
    Welcome,
    connect,
    hang_up,
)

#: Seconds a client waits for an answer (or to connect) before giving up.
DEFAULT_TIMEOUT = 10.0
#: Recent request timings a client keeps for its metrics.
TIMINGS_KEPT = 1024


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
        self.message: DetectResult | DetectFailed | None = None

    def set(self, message: DetectResult | DetectFailed) -> None:
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
        self._info: ModelInfo = handle.info
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

        info = self._info
        if info.input_size is None:
            raise VigilError("the detector service did not say its input size")
        return plan_letterbox(
            width, height, info.input_size, rect=info.dynamic, upscale=info.upscale
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
        hello = Hello(self.client_id, ring.count, ring.slot_bytes, self.in_flight)
        conn, reply = connect(self.handle, hello, self.timeout)
        try:
            if not isinstance(reply, Welcome):
                reason = reply.reason if isinstance(reply, Refused) else "unexpected reply"
                raise VigilError(f"detector service refused client {self.client_id}: {reason}")
            name, info = reply.segment, reply.info
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
            assert self._conn is not None and self._segment is not None
            return self._conn, self._segment

    def _receive(self, conn: Connection) -> None:
        try:
            while True:
                message: DetectResult | DetectFailed = conn.recv()
                with self._lock:
                    waiter = self._pending.get(message.request_id)
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
            hang_up(conn)
        for waiter in waiters:
            waiter.set(DetectFailed(0, reason, lost=True))
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
            entries: list[tuple[int, int, int]] = []
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
                    conn.send(DetectRequest(request_id, tuple(entries)))
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
        if isinstance(message, DetectFailed):
            self._count("errors")
            if message.lost:
                raise VigilError(f"{NOT_RESPONDING} ({message.error})")
            raise VigilError(f"detector service: {message.error}")
        timing = Timing(
            (time.perf_counter() - began) * 1000,
            message.queued_ms,
            message.inference_ms,
            message.batch_images,
            message.batch_requests,
        )
        with self._lock:
            self._timings.append(timing)
        return _split(message)

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)


def _split(result: DetectResult) -> list[Detections]:
    """One `Detections` per image of a request: views of the result's rows, no copies."""
    found, start = [], 0
    for count in result.counts:
        end = start + count
        found.append(
            Detections(
                result.xyxy[start:end], result.confidence[start:end], result.class_id[start:end]
            )
        )
        start = end
    return found
