"""`Event`: the one data model for everything an app reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

EventState = Literal["instant", "start", "update", "end"]


def new_event_id() -> str:
    return uuid.uuid4().hex


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
