"""`Event`: the one data model for everything an app reports, and what a storable one is."""

from __future__ import annotations

import json
import math
import numbers
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import PurePath
from typing import Any, Literal, get_args

EventState = Literal["instant", "start", "update", "end"]
EVENT_STATES = frozenset(get_args(EventState))

INT64 = (-(2**63), 2**63 - 1)
MAX_TEXT = 200  # characters of a type, class name, zone or line name
MAX_ATTRIBUTES = 16 * 1024  # bytes of an event's attributes as JSON
_EVENT_ID = re.compile(r"[0-9a-f]{32}")


def new_event_id() -> str:
    return uuid.uuid4().hex


def is_event_id(value: object) -> bool:
    """Whether `value` is an id `new_event_id` makes (safe in a file name, a topic, a URL)."""
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None


@dataclass(slots=True)
class Event:
    """Something an app noticed.

    Times are seconds on the source's timeline (the frame's `pts`). Long-lived events
    (loitering, occupancy, stopped vehicle) are emitted as `start`, optional `update`s and
    `end` with the same `id`; one-shot events (a line crossing) are `instant` with
    `end_time == start_time`.
    """

    source: str
    app: str
    type: str
    start_time: float
    frame_index: int
    state: EventState = "instant"
    end_time: float | None = None
    track_id: int | None = None
    class_id: int | None = None
    class_name: str | None = None
    zone: str | None = None
    line: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_event_id)


def text_problem(value: object, limit: int = MAX_TEXT) -> str | None:
    """Why `value` is not a printable string of at most `limit` characters, or None.

    Printable excludes control characters and lone surrogates (which cannot be encoded)."""
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not a string"
    if not value or len(value) > limit:
        return f"has {len(value)} characters (1..{limit})"
    if not value.isprintable():
        return "has unprintable characters"
    return None


def json_default(value: Any) -> Any:
    """`json.dumps` ``default`` for what apps commonly put in attributes: numpy scalars and
    arrays, sets, datetimes and paths."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def plain_attributes(attributes: object) -> dict[str, Any]:
    """`attributes` as plain JSON data (numpy numbers converted); ValueError saying why
    they cannot be stored: not an object, not JSON (NaN, infinity, a cycle, too deep), a
    lone surrogate, over `MAX_ATTRIBUTES` bytes."""
    if not isinstance(attributes, dict):
        raise ValueError(f"attributes are a {type(attributes).__name__}, not an object")
    try:
        text = json.dumps(attributes, allow_nan=False, ensure_ascii=False, default=json_default)
        size = len(text.encode())
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise ValueError(f"attributes are not storable JSON: {type(exc).__name__}") from None
    if size > MAX_ATTRIBUTES:
        raise ValueError(f"attributes of {size} bytes exceed {MAX_ATTRIBUTES}")
    return json.loads(text)


def storable_event(event: object) -> Event:
    """A copy of `event` with plain Python values that can be stored and published;
    ValueError naming the first field that cannot.

    Integers (numpy's too) must fit int64, times be finite, names printable and bounded;
    attributes are checked by `plain_attributes`."""
    if not isinstance(event, Event):
        raise ValueError(f"not an Event but a {type(event).__name__}")
    if event.state not in EVENT_STATES:
        raise ValueError(f"state {event.state!r} is not one of {sorted(EVENT_STATES)}")
    texts = {}
    for name in ("type", "class_name", "zone", "line"):
        value = getattr(event, name)
        problem = None if value is None and name != "type" else text_problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}")
        texts[name] = value
    ints: dict[str, int | None] = {}
    for name in ("frame_index", "track_id", "class_id"):
        value = getattr(event, name)
        if value is None and name != "frame_index":
            ints[name] = None
            continue
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise ValueError(f"{name} is a {type(value).__name__}, not an integer")
        if not INT64[0] <= int(value) <= INT64[1]:
            raise ValueError(f"{name} of {int(value).bit_length()} bits is outside int64")
        ints[name] = int(value)
    times: dict[str, float | None] = {}
    for name in ("start_time", "end_time"):
        value = getattr(event, name)
        if value is None and name == "end_time":
            times[name] = None
            continue
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"{name} is a {type(value).__name__}, not a number")
        try:
            times[name] = float(value)
        except OverflowError:
            raise ValueError(f"{name} is not a finite number") from None
        if not math.isfinite(times[name]):
            raise ValueError(f"{name} is {value}, not a finite number")
    return replace(event, **texts, **ints, **times, attributes=plain_attributes(event.attributes))
