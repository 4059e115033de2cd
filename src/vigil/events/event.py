"""`Event`: the one data model for everything an app reports, and what a storable one is.

An event's attributes are made plain JSON data once, when the event is made (`json_value`,
the one converter of attribute values), so the store, the API, MQTT and the sandbox protocol
hand them on as they are.
"""

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
    node: str | None = field(default=None, compare=False)
    """Set by the event store: the cluster node that stored the event (its snapshot is on
    that node's disk); None on a single box. Apps leave it alone."""

    def __post_init__(self) -> None:
        # Not a dict: left for `storable_event` to refuse with its reason.
        if isinstance(self.attributes, dict):
            try:
                self.attributes = json_value(self.attributes)
            except RecursionError:
                raise ValueError("attributes nest too deep (or hold themselves)") from None


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


def json_value(value: Any, *, replace_invalid: bool = False) -> Any:
    """`value` as plain JSON data: dicts with string keys, lists, strings, ints, floats,
    booleans and None. Numpy scalars and arrays, tuples, sets (sorted), datetimes (ISO 8601)
    and paths are converted; TypeError names any other type.

    With `replace_invalid`, what strict JSON in UTF-8 cannot hold is replaced, as every
    database backend and reader needs: NaN and infinities by None, lone surrogates by U+FFFD.
    Without, they are kept, so that `storable_event` can refuse an app's event holding them.
    """
    kind = type(value)
    if kind is str:
        return valid_text(value) if replace_invalid else value
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, float):
        number = float(value)  # numpy's float64 is a float subclass
        return None if replace_invalid and not math.isfinite(number) else number
    if isinstance(value, dict):
        return {
            _json_key(k, replace_invalid): json_value(v, replace_invalid=replace_invalid)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [json_value(v, replace_invalid=replace_invalid) for v in value]
    if isinstance(value, set | frozenset):
        return [json_value(v, replace_invalid=replace_invalid) for v in sorted(value, key=repr)]
    if isinstance(value, str):  # a subclass, e.g. a str enum: its text
        return json_value(str.__str__(value), replace_invalid=replace_invalid)
    if isinstance(value, int):  # a subclass, e.g. an int enum
        return int(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_value(value.tolist(), replace_invalid=replace_invalid)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{kind.__name__} is not JSON serialisable")


def _json_key(key: Any, replace_invalid: bool) -> str:
    """A dict key as JSON has it: a string (a number, boolean or None as `json.dumps` writes
    it)."""
    if isinstance(key, str):
        return valid_text(key) if replace_invalid else str(key)
    plain = json_value(key)
    if isinstance(plain, dict | list):
        raise TypeError(
            f"keys must be strings, numbers, booleans or None, not {type(key).__name__}"
        )
    return json.dumps(plain)


def valid_text(text: str) -> str:
    """`text` without lone surrogates (they cannot be encoded as UTF-8): each becomes U+FFFD,
    and a pair split into two surrogates becomes the character it stands for."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def plain_attributes(attributes: object) -> dict[str, Any]:
    """`attributes` as plain JSON data (numpy numbers converted); ValueError saying why
    they cannot be stored: not an object, not JSON (NaN, infinity, a cycle, too deep), a
    lone surrogate, over `MAX_ATTRIBUTES` bytes."""
    if not isinstance(attributes, dict):
        raise ValueError(f"attributes are a {type(attributes).__name__}, not an object")
    try:
        text = json.dumps(attributes, allow_nan=False, ensure_ascii=False, default=json_value)
        size = len(text.encode())
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise ValueError(f"attributes are not storable JSON: {type(exc).__name__}") from None
    if size > MAX_ATTRIBUTES:
        raise ValueError(f"attributes of {size} bytes exceed {MAX_ATTRIBUTES}")
    plain: dict[str, Any] = json.loads(text)
    return plain


def storable_event(event: object) -> Event:
    """A copy of `event` with plain Python values that can be stored and published;
    ValueError naming the first field that cannot.

    Integers (numpy's too) must fit int64, times be finite, names printable and bounded;
    attributes are checked by `plain_attributes`."""
    if not isinstance(event, Event):
        raise ValueError(f"not an Event but a {type(event).__name__}")
    if event.state not in EVENT_STATES:
        raise ValueError(f"state {event.state!r} is not one of {sorted(EVENT_STATES)}")
    texts: dict[str, Any] = {}
    for name in ("type", "class_name", "zone", "line"):
        value = getattr(event, name)
        problem = None if value is None and name != "type" else text_problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}")
        texts[name] = value
    ints: dict[str, Any] = {}
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
    times: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        value = getattr(event, name)
        if value is None and name == "end_time":
            times[name] = None
            continue
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"{name} is a {type(value).__name__}, not a number")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{name} is not a finite number") from None
        if not math.isfinite(number):
            raise ValueError(f"{name} is {value}, not a finite number")
        times[name] = number
    return replace(event, **texts, **ints, **times, attributes=plain_attributes(event.attributes))
