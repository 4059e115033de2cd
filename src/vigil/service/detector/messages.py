"""What the detector service and its clients say to each other, one socket per client.

Every message is a small frozen dataclass, pickled by `multiprocessing.connection`: pixels
never travel this way (they sit in the client's shared-memory segment, and a request names
them by offset), only boxes come back, as three numpy arrays for all images of a request.

A camera's client opens with `Hello` and is answered `Welcome` (or `Refused`); then it sends
`DetectRequest`s, each answered by a `DetectResult` or a `DetectFailed` with its request id.
The supervisor opens its control line with `ControlHello` and asks `StatsRequest`. At start
the service process tells the supervisor `Ready` or `StartFailed` on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection
from typing import Any

import numpy as np

from vigil.errors import VigilError

NOT_RESPONDING = "detector service not responding"


class _Message:
    """Pickled as its class and field values, in order: several times cheaper than the
    default of a slots dataclass (state dict, set field by field), and these go out for
    every detection request."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        names: tuple[str, ...] = self.__slots__
        return type(self), tuple([getattr(self, name) for name in names])


@dataclass(frozen=True, slots=True)
class ModelInfo(_Message):
    """The model's input size and letterbox rules, so a client plans inputs without asking."""

    input_size: tuple[int, int] | None = None
    dynamic: bool = True
    upscale: bool = False


@dataclass(frozen=True)
class DetectorHandle:
    """How a camera worker reaches the service; picklable, passed to workers at spawn."""

    address: str
    authkey: bytes = field(repr=False)
    info: ModelInfo = field(default_factory=ModelInfo, compare=False)


@dataclass(frozen=True, slots=True)
class Hello(_Message):
    """A camera's client: its ring of `slots` slots of `slot_bytes`, and how many requests
    it may have pending at once (the batching wait ends when every camera is at it)."""

    client_id: str
    slots: int
    slot_bytes: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class ControlHello(_Message):
    """The supervisor's control line (stats), which is no camera."""


@dataclass(frozen=True, slots=True)
class Welcome(_Message):
    """The shared-memory segment the service made for the client's ring."""

    segment: str
    info: ModelInfo


@dataclass(frozen=True, slots=True)
class Refused(_Message):
    reason: str


@dataclass(frozen=True, slots=True)
class DetectRequest(_Message):
    """Detect on the images at these (offset, height, width) of the client's segment."""

    request_id: int
    images: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class DetectResult(_Message):
    """The detections of a request's images, concatenated: image k has `counts[k]` rows."""

    request_id: int
    counts: tuple[int, ...]
    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    queued_ms: float  # waiting in the service until its batch started
    inference_ms: float  # the whole batch's detect call
    batch_images: int  # images in that batch, from all cameras
    batch_requests: int  # requests (cameras' calls) in that batch


@dataclass(frozen=True, slots=True)
class DetectFailed(_Message):
    request_id: int
    error: str  # one line
    lost: bool = False  # the connection dropped (client side): no answer will come


@dataclass(frozen=True, slots=True)
class StatsRequest(_Message):
    pass


@dataclass(frozen=True, slots=True)
class StatsReply(_Message):
    stats: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ready(_Message):
    pid: int
    info: ModelInfo
    device: str  # `DeviceChoice.describe()`: where the model runs and why, for the log


@dataclass(frozen=True, slots=True)
class StartFailed(_Message):
    kind: str  # the exception's class name: "ModelError" is re-raised as one
    error: str


ClientMessage = Hello | ControlHello | DetectRequest | StatsRequest
ServiceMessage = Welcome | Refused | DetectResult | DetectFailed | StatsReply


def one_line(error: BaseException) -> str:
    """The first line of an error's text (an onnxruntime error runs over many)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def hang_up(conn: Connection) -> None:
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


def connect(
    handle: DetectorHandle, hello: Hello | ControlHello, timeout: float
) -> tuple[Connection, ServiceMessage | None]:
    """Connect, authenticate and say hello within `timeout`; returns the reply to a `Hello`.

    The connect runs on a helper thread, so a hung service (which may accept but never answer
    the authentication) costs `timeout` rather than a hang.
    """
    box: dict[str, Any] = {}

    def attempt() -> None:
        try:
            conn = Client(handle.address, "AF_UNIX", authkey=handle.authkey)
            box["conn"] = conn
            conn.send(hello)
            if isinstance(hello, Hello):
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
        raise VigilError(f"{NOT_RESPONDING} (cannot connect: {one_line(box['error'])})")
    return box["conn"], box.get("reply")
