"""Review items: a camera's events grouped into what a person looks at once.

Events of one camera that overlap in time (within `ReviewSettings.gap_seconds` of each other)
form one item, with its span, the apps, types, classes and zones involved, and a severity:
``alert`` when any of its events is one (by type, app or zone, as `ReviewSettings` says, like
Frigate's alerts and detections), ``detection`` otherwise. An item is at most
`ReviewSettings.max_item_seconds` long: a scene busy all day becomes a row of items, not one.
Periodic state reports (``occupancy`` and ``queue`` samples) are series for charts, never
review items.

`place_event` is the one grouping step (pure: the event store applies it to the items it
loads as events are stored); `group_events` applies it to a whole stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.events.event import Event, new_event_id

__all__ = [
    "ReviewItem",
    "ReviewSettings",
    "Severity",
    "event_severity",
    "group_events",
    "place_event",
]

Severity = Literal["alert", "detection"]


class AlertRules(BaseModel):
    """Which events are alerts: any event of these types, of these app instances, or in
    these zones (the rest are detections)."""

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(
        default_factory=lambda: [
            "intrusion",
            "abandoned_object",
            "object_removed",
            "wrong_way",
            "loitering",
            "stopped_vehicle",
            "crowding",
            "occupancy_alarm",
            "long_wait",
        ]
    )
    apps: list[str] = Field(default_factory=list, description="app instance names")
    zones: list[str] = Field(default_factory=list, description="zone (or line) names")


class ReviewSettings(BaseModel):
    """How events become review items (the site file's ``review`` section)."""

    model_config = ConfigDict(extra="forbid")

    alerts: AlertRules = Field(default_factory=AlertRules)
    series: list[str] = Field(
        default_factory=lambda: ["occupancy", "queue"],
        description="event types that are periodic state reports, never review items",
    )
    gap_seconds: float = Field(10.0, ge=0, description="events this close form one item")
    max_item_seconds: float = Field(300.0, gt=0, description="longest item")


@dataclass(slots=True)
class ReviewItem:
    """One item: a camera's overlapping events. Times are the events' (source timeline)."""

    source: str
    start: float
    end: float
    severity: Severity
    apps: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    classes: set[str] = field(default_factory=set)
    zones: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    """The event whose object picture stands for the item (its first alert, else its first)."""
    id: str = field(default_factory=new_event_id)


def event_severity(event: Event, settings: ReviewSettings) -> Severity:
    rules = settings.alerts
    alert = (
        event.type in rules.types
        or event.app in rules.apps
        or (event.zone or event.line or "") in rules.zones
    )
    return "alert" if alert else "detection"


def _span(event: Event) -> tuple[float, float]:
    end = event.end_time if event.end_time is not None else event.start_time
    return event.start_time, max(end, event.start_time)


def _add(item: ReviewItem, event: Event, severity: Severity) -> None:
    start, end = _span(event)
    item.start, item.end = min(item.start, start), max(item.end, end)
    item.apps.add(event.app)
    item.types.add(event.type)
    for name, values in ((event.class_name, item.classes), (event.zone or event.line, item.zones)):
        if name is not None:
            values.add(name)
    if event.id not in item.event_ids:
        item.event_ids.append(event.id)
    if severity == "alert" and item.severity != "alert":
        item.severity = "alert"
        item.thumbnail = event.id
    elif item.thumbnail is None:
        item.thumbnail = event.id


@dataclass(frozen=True, slots=True)
class Placement:
    """Where `place_event` put an event: `item` (new, or one of those given, grown), and the
    given items merged into it (to delete: their events are now `item`'s)."""

    item: ReviewItem
    merged: tuple[ReviewItem, ...] = ()


def place_event(
    event: Event, items: Sequence[ReviewItem], settings: ReviewSettings
) -> Placement | None:
    """Put `event` into the review item it belongs to, among `items` (the camera's items
    near it; changed in place); None for a periodic report (a series, not reviewed).

    An event already in an item (a long-lived one's later record) grows that item. Otherwise
    it joins the items it overlaps within ``gap_seconds`` (merging those that then overlap,
    as long as the result stays within ``max_item_seconds``; the latest one alone, if that
    fits; else a new item).
    """
    if event.type in settings.series:
        return None
    severity = event_severity(event, settings)
    own = [item for item in items if item.source == event.source]
    for item in own:
        if event.id in item.event_ids:
            _add(item, event, severity)
            return Placement(item)
    start, end = _span(event)
    gap = settings.gap_seconds
    near = sorted(
        (item for item in own if item.start - gap <= end and start <= item.end + gap),
        key=lambda item: (item.start, item.id),
    )
    longest = settings.max_item_seconds
    if near and max(end, *(i.end for i in near)) - min(start, near[0].start) <= longest:
        keep, merged = near[0], tuple(near[1:])
        for other in merged:
            keep.event_ids.extend(other.event_ids)
            keep.start, keep.end = min(keep.start, other.start), max(keep.end, other.end)
            keep.apps |= other.apps
            keep.types |= other.types
            keep.classes |= other.classes
            keep.zones |= other.zones
            if other.severity == "alert" and keep.severity != "alert":
                keep.severity, keep.thumbnail = "alert", other.thumbnail
        _add(keep, event, severity)
        return Placement(keep, merged)
    latest = near[-1] if near else None
    if latest is not None and max(end, latest.end) - min(start, latest.start) <= longest:
        _add(latest, event, severity)
        return Placement(latest)
    item = ReviewItem(event.source, start, end, severity)
    _add(item, event, severity)
    return Placement(item)


def group_events(events: Iterable[Event], settings: ReviewSettings) -> list[ReviewItem]:
    """The review items of `events` (any cameras, in the order they were stored), newest
    first."""
    items: dict[str, ReviewItem] = {}
    for event in events:
        placed = place_event(event, list(items.values()), settings)
        if placed is None:
            continue
        for gone in placed.merged:
            del items[gone.id]
        items[placed.item.id] = placed.item
    return sorted(items.values(), key=lambda item: (item.start, item.id), reverse=True)
