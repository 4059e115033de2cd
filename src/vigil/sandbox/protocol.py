"""Messages between `SandboxedApp` (parent) and its sandbox host (child).

One message per datagram of a ``SOCK_SEQPACKET`` socket pair, so there is no stream framing
to get wrong. The first byte is the kind:

parent → child (trusted)
    ``I`` init, JSON: app entry point, instance name, settings, scene, site dir, limits, pixels
    ``F`` frame, binary: a fixed header (`_FRAME`), the source id, then the tracked objects
      as raw little-endian arrays — ``xyxy`` float32 (n, 4), ``confidence`` float32 (n,),
      ``class_id`` int64 (n,), ``tracker_id`` int64 (n,); pixels, when the app may see them,
      travel through shared memory (``pixel_slot`` names the slot)
    ``E`` end of stream, JSON: the sequence number and the last frame's context

child → parent (untrusted: the app runs in that process and may write anything)
    ``R`` ready; ``X`` init failed, JSON ``{"error": ...}``
    ``O`` result of frame/end ``seq``, JSON ``{"seq", "events", "counters", "error"}``

The parent never unpickles anything: replies are JSON of at most `MAX_REPLY` bytes, and each
event is validated into an `Event` (`parse_events`).
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from vigil.apps.base import FrameContext, Scene
from vigil.apps.boundary import MAX_COUNTERS
from vigil.detection.detections import Detections
from vigil.errors import one_line
from vigil.events.event import Event, json_value
from vigil.geometry.shapes import Line, Zone

INIT = b"I"
FRAME = b"F"
END = b"E"
READY = b"R"
INIT_ERROR = b"X"
RESULT = b"O"

MAX_MESSAGE = 1024 * 1024  # bytes of a message to the host (a frame of ~29000 objects)
# Bytes of an answer: a longer one is a protocol violation, unread. Parsing it is what the
# pipeline's thread pays for an app's answer, so it is kept to about a millisecond.
MAX_REPLY = 64 * 1024

# seq, frame_index, pts, width, height, n objects, pixel slot (-1: none), len(source_id)
_FRAME = struct.Struct("<QqdIIIiH")


class ProtocolError(ValueError):
    """A message that does not follow this protocol."""


# ------------------------------------------------------------------------------- parent side


def encode_json(kind: bytes, payload: dict[str, Any]) -> bytes:
    return kind + json.dumps(payload, separators=(",", ":")).encode()


def encode_frame(seq: int, ctx: FrameContext, objects: Detections, pixel_slot: int = -1) -> bytes:
    source = ctx.source_id.encode()
    header = _FRAME.pack(
        seq, ctx.frame_index, ctx.pts, ctx.width, ctx.height, len(objects), pixel_slot, len(source)
    )
    return b"".join(
        (
            FRAME,
            header,
            source,
            np.ascontiguousarray(objects.xyxy, dtype="<f4").tobytes(),
            np.ascontiguousarray(objects.confidence, dtype="<f4").tobytes(),
            np.ascontiguousarray(objects.class_id, dtype="<i8").tobytes(),
            np.ascontiguousarray(objects.tracker_id, dtype="<i8").tobytes(),
        )
    )


def context_json(ctx: FrameContext) -> dict[str, Any]:
    return {
        "source_id": ctx.source_id,
        "frame_index": ctx.frame_index,
        "pts": ctx.pts,
        "width": ctx.width,
        "height": ctx.height,
    }


def scene_json(scene: Scene) -> dict[str, Any]:
    """The scene in pixels, as the host rebuilds it (`scene_from_json`)."""
    return {
        "width": scene.width,
        "height": scene.height,
        "zones": [
            {
                "name": z.name,
                "points": [list(p) for p in z.points],
                "frame_size": z.frame_size,
                "ground": None if z.ground is None else [list(p) for p in z.ground],
            }
            for z in scene.zones.values()
        ],
        "lines": [
            {"name": ln.name, "start": list(ln.start), "end": list(ln.end), "invert": ln.invert}
            for ln in scene.lines.values()
        ],
        "class_names": list(scene.class_names),
    }


@dataclass
class Reply:
    """A decoded child message (kind READY, INIT_ERROR or RESULT)."""

    kind: bytes
    seq: int = -1
    events: list[Any] = field(default_factory=list)
    counters: dict[str, float] | None = None
    error: str | None = None


_COUNTERS = TypeAdapter(dict[str, float])
_EVENT = TypeAdapter(Event)


def decode_reply(data: bytes) -> Reply:
    """Parse one child message; ProtocolError if it is anything but a well-formed reply
    (whatever the bytes: the reply decoder is fuzzed, tests/sandbox/test_fuzz_reply.py)."""
    kind, body = data[:1], data[1:]
    if kind not in (READY, INIT_ERROR, RESULT):
        raise ProtocolError(f"unknown message kind {kind!r}")
    try:
        payload = json.loads(body) if body else {}
    except (ValueError, RecursionError) as exc:
        # not JSON, not UTF-8, too deep to parse, or an integer too long to convert
        raise ProtocolError(f"reply is not JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(payload, dict):
        raise ProtocolError("reply is not a JSON object")
    error = payload.get("error")
    if error is not None and not isinstance(error, str):
        raise ProtocolError("reply error is not a string")
    error = None if error is None else one_line(error)
    if kind != RESULT:
        return Reply(kind, error=error)
    seq, events, counters = payload.get("seq"), payload.get("events", []), payload.get("counters")
    if not isinstance(seq, int) or not isinstance(events, list):
        raise ProtocolError("result without an integer seq and a list of events")
    if counters is not None:
        if not isinstance(counters, dict) or len(counters) > MAX_COUNTERS:
            raise ProtocolError(f"counters must be an object of at most {MAX_COUNTERS} numbers")
        try:
            counters = _COUNTERS.validate_python(counters)
        except (ValidationError, ValueError, RecursionError) as exc:
            raise ProtocolError(f"bad counters: {one_line(str(exc), 120)}") from None
    return Reply(kind, seq, events, counters, error)


def parse_events(
    raw: list[Any], app_name: str, source_id: str, allowed_types: frozenset[str]
) -> tuple[list[Event], list[str]]:
    """The valid events of a result, and one problem line per rejected one.

    An event must validate as an `Event` and have a type the manifest declares; ``app`` and
    ``source`` are set by the parent (an app cannot speak for another instance or camera).
    """
    events, problems = [], []
    for item in raw:
        if not isinstance(item, dict):
            problems.append("event is not a JSON object")
            continue
        item = {**item, "app": app_name, "source": source_id}
        try:
            event = _EVENT.validate_python(item)
        except (ValidationError, ValueError, RecursionError) as exc:
            problems.append(f"invalid event: {one_line(str(exc), 160)}")
            continue
        if event.type not in allowed_types:
            problems.append(f"event type {event.type!r} is not declared in the manifest")
            continue
        events.append(event)
    return events, problems


# -------------------------------------------------------------------------------- child side


def decode_frame(data: bytes) -> tuple[int, FrameContext, Detections, int]:
    """(seq, context without pixels, tracked objects, pixel slot) of a frame message."""
    seq, index, pts, width, height, n, slot, slen = _FRAME.unpack_from(data, 1)
    offset = 1 + _FRAME.size
    source = data[offset : offset + slen].decode()
    offset += slen
    arrays = []
    for dtype, count in (("<f4", 4 * n), ("<f4", n), ("<i8", n), ("<i8", n)):
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += arr.nbytes
        arrays.append(arr)
    objects = Detections(arrays[0].reshape(n, 4), arrays[1], arrays[2], arrays[3])
    return seq, FrameContext(source, index, pts, width, height), objects, slot


def context_from_json(data: dict[str, Any]) -> FrameContext:
    return FrameContext(
        str(data["source_id"]),
        int(data["frame_index"]),
        float(data["pts"]),
        int(data["width"]),
        int(data["height"]),
    )


def scene_from_json(data: dict[str, Any]) -> Scene:
    zones = {
        z["name"]: Zone(
            z["name"],
            tuple(tuple(p) for p in z["points"]),
            normalized=False,
            frame_size=None if z["frame_size"] is None else tuple(z["frame_size"]),
            ground=None if z["ground"] is None else tuple(tuple(p) for p in z["ground"]),
        )
        for z in data["zones"]
    }
    lines = {
        ln["name"]: Line(
            ln["name"], tuple(ln["start"]), tuple(ln["end"]), normalized=False, invert=ln["invert"]
        )
        for ln in data["lines"]
    }
    return Scene(int(data["width"]), int(data["height"]), zones, lines, tuple(data["class_names"]))


def encode_result(
    seq: int, events: list[Event], counters: dict[str, float] | None, error: str | None
) -> bytes:
    """A result message; an app whose output cannot be sent gets an error result instead."""
    payload = {"seq": seq, "events": [asdict(e) for e in events], "counters": counters}
    try:
        body = json.dumps({**payload, "error": error}, separators=(",", ":"), default=json_value)
    except (TypeError, ValueError) as exc:
        error, body = f"events or counters are not JSON serialisable: {exc}", ""
    if len(body) > MAX_REPLY - 1:
        error, body = f"result of {len(body)} bytes exceeds {MAX_REPLY} (too many events?)", ""
    if not body:
        body = json.dumps({"seq": seq, "events": [], "counters": None, "error": error})
    return RESULT + body.encode()
