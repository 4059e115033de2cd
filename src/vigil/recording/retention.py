"""Retention: which recording segments to delete, by age per recording mode and by a disk
budget, never the footage events still need.

Rules, per camera (`CameraRetention`); "active" means the segment saw motion or objects,
and ages count from a segment's end:

- ``continuous``: segments are kept `retain_days`, active ones `max(retain_days,
  motion_days)`.
- ``motion``: segments without activity go once `grace_seconds` old; active ones are kept
  `motion_days`.
- ``events``: segments no event references go once `grace_seconds` old.
- ``off`` (the camera no longer records): what is on disk ages out as in ``continuous``,
  so switching recording off does not wipe the footage.

A segment is *referenced* by an event when it overlaps [event start - `pre_roll`, event end
+ `post_roll`] (an event still going on ends now); while the event is younger than its
camera's `event_days` (counted from the event's start) the segment is kept whatever the
rules above say, and the disk budget never takes it either.

Disk budget: when the indexed segments of all cameras together exceed `budget_bytes`
after the age rules, the oldest segments go first (across cameras) until the total fits,
skipping referenced ones; if only referenced or recent footage is left the budget stays
exceeded and a warning is logged.

Nothing younger than `grace_seconds` is ever deleted (events arrive late and reach back by
their pre-roll), and only finished, indexed segments are considered, so a segment still
being written (a ``.part`` file, not in the index) is never touched.

`RetentionPolicy.plan()` decides (reads the index and the events, changes nothing);
`apply()` deletes the planned files and rows. The selection itself (`select_expired`,
`select_over_budget`, `EventCover`) is pure and works on plain iterables.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from vigil.recording.index import Segment, SegmentIndex

if TYPE_CHECKING:
    from vigil.events.store import EventStore

__all__ = [
    "DAY",
    "CameraRetention",
    "Deletion",
    "EventCover",
    "EventSpan",
    "EventsQuery",
    "RecordMode",
    "RetentionPolicy",
    "select_expired",
    "select_over_budget",
    "store_events",
]

_log = logging.getLogger(__name__)

DAY = 86400.0
RecordMode = Literal["continuous", "motion", "events", "off"]
_MODES = ("continuous", "motion", "events", "off")

#: (camera, start, end) of an event in wall-clock seconds; end None while it goes on.
EventSpan = tuple[str, float, float | None]
#: Events that started at or after `since` (wall clock), as `EventSpan`s.
EventsQuery = Callable[[float], Iterable[EventSpan]]


@dataclass(frozen=True, slots=True)
class CameraRetention:
    """How long one camera's footage is kept (days may be fractional)."""

    mode: RecordMode = "continuous"
    retain_days: float = 7.0
    motion_days: float = 7.0
    event_days: float = 30.0
    pre_roll: float = 5.0
    post_roll: float = 5.0

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(
                f"recording mode must be one of {', '.join(_MODES)}, got {self.mode!r}"
            )
        for name in ("retain_days", "motion_days", "event_days", "pre_roll", "post_roll"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def cutoffs(self, now: float, grace: float) -> tuple[float, float]:
        """(inactive, active): segments that ended before these times are past their age."""
        if self.mode == "motion":
            inactive, active = now - grace, now - self.motion_days * DAY
        elif self.mode == "events":
            inactive = active = now - grace
        else:  # continuous, off
            inactive = now - self.retain_days * DAY
            active = now - max(self.retain_days, self.motion_days) * DAY
        return min(inactive, now - grace), min(active, now - grace)


@dataclass(frozen=True, slots=True)
class Deletion:
    segment: Segment
    reason: str  # "age" or "budget"


class EventCover:
    """The time ranges of each camera that events still reference (pure, in memory)."""

    def __init__(
        self,
        spans: Iterable[EventSpan],
        rules: Callable[[str], CameraRetention],
        now: float,
    ) -> None:
        by_camera: dict[str, list[tuple[float, float]]] = {}
        for camera, start, end in spans:
            rule = rules(camera)
            if now - start >= rule.event_days * DAY:
                continue
            stop = now if end is None else max(end, start)
            by_camera.setdefault(camera, []).append((start - rule.pre_roll, stop + rule.post_roll))
        self._starts: dict[str, list[float]] = {}
        self._ends: dict[str, list[float]] = {}
        for camera, ranges in by_camera.items():
            merged: list[list[float]] = []
            for a, b in sorted(ranges):
                if merged and a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b)
                else:
                    merged.append([a, b])
            self._starts[camera] = [a for a, _ in merged]
            self._ends[camera] = [b for _, b in merged]

    def protects(self, segment: Segment) -> bool:
        """Whether an event within its retention references `segment`."""
        starts = self._starts.get(segment.camera)
        if not starts:
            return False
        i = bisect.bisect_left(starts, segment.end_time) - 1  # last range starting before end
        return i >= 0 and self._ends[segment.camera][i] > segment.start_time


def select_expired(
    segments: Iterable[Segment],
    rules: Callable[[str], CameraRetention],
    cover: EventCover,
    now: float,
    grace: float,
) -> list[Deletion]:
    """The segments past their mode's age and not referenced by an event (pure)."""
    out = []
    for seg in segments:
        inactive, active = rules(seg.camera).cutoffs(now, grace)
        cutoff = active if (seg.motion or seg.objects) else inactive
        if seg.end_time < cutoff and not cover.protects(seg):
            out.append(Deletion(seg, "age"))
    return out


def select_over_budget(
    oldest_first: Iterable[Segment],
    excess: int,
    cover: EventCover,
    now: float,
    grace: float,
    skip: frozenset[int] | set[int] = frozenset(),
) -> list[Deletion]:
    """Oldest segments whose sizes add up to at least `excess` bytes, skipping those in
    `skip` (already planned), referenced by events or younger than `grace` (pure)."""
    out: list[Deletion] = []
    freed = 0
    for seg in oldest_first:
        if freed >= excess:
            break
        if seg.id in skip or seg.end_time >= now - grace or cover.protects(seg):
            continue
        out.append(Deletion(seg, "budget"))
        freed += seg.size_bytes
    return out


@dataclass(slots=True)
class RetentionPolicy:
    """Retention rules per camera (`default` for cameras not listed), a disk budget in bytes
    across all cameras (None: no budget) and the grace period of fresh footage."""

    cameras: Mapping[str, CameraRetention] = field(default_factory=dict)
    default: CameraRetention = field(default_factory=CameraRetention)
    budget_bytes: int | None = None
    grace_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.budget_bytes is not None and self.budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {self.budget_bytes}")
        if self.grace_seconds < 0:
            raise ValueError(f"grace_seconds must be >= 0, got {self.grace_seconds}")

    def rules(self, camera: str) -> CameraRetention:
        return self.cameras.get(camera, self.default)

    def plan(
        self,
        index: SegmentIndex,
        events_query: EventsQuery,
        now: float | None = None,
    ) -> list[Deletion]:
        """What `apply()` would delete now; reads the index and the events only."""
        now = _now() if now is None else float(now)
        grace = self.grace_seconds
        longest = max([self.default.event_days, *(r.event_days for r in self.cameras.values())])
        cover = EventCover(events_query(now - longest * DAY), self.rules, now)

        plan: list[Deletion] = []
        for camera in index.cameras():
            inactive, active = self.rules(camera).cutoffs(now, grace)
            for flag, cutoff in ((False, inactive), (True, active)):
                candidates = index.iter_oldest(camera, ended_before=cutoff, active=flag)
                plan += select_expired(candidates, self.rules, cover, now, grace)

        if self.budget_bytes is not None:
            planned = {d.segment.id for d in plan}
            total = index.total_bytes() - sum(d.segment.size_bytes for d in plan)
            excess = total - self.budget_bytes
            if excess > 0:
                extra = select_over_budget(
                    index.iter_oldest(None, ended_before=now - grace),
                    excess,
                    cover,
                    now,
                    grace,
                    planned,
                )
                plan += extra
                left = excess - sum(d.segment.size_bytes for d in extra)
                if left > 0:
                    _log.warning(
                        "recordings exceed the disk budget by %d bytes; the rest is "
                        "footage events still reference or younger than %.0f s",
                        left,
                        grace,
                    )
        return plan

    def apply(
        self,
        index: SegmentIndex,
        events_query: EventsQuery,
        now: float | None = None,
    ) -> list[str]:
        """Delete the planned segments (files, then rows); returns the deleted paths.

        A file that is already gone still loses its row; one that cannot be deleted
        (permissions) keeps its row and is tried again next time.
        """
        now = _now() if now is None else float(now)
        deleted_ids: list[int] = []
        deleted: list[str] = []
        folders: set[Path] = set()
        for item in self.plan(index, events_query, now):
            path = Path(item.segment.path)
            if path.suffix != ".mp4":
                _log.error("retention: not deleting %s (not an .mp4); row removed", path)
                deleted_ids.append(item.segment.id)
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as err:
                _log.error("retention: cannot delete %s: %s", path, err)
                continue
            deleted_ids.append(item.segment.id)
            deleted.append(str(path))
            folders.add(path.parent)
        index.delete(deleted_ids)
        _prune_folders(folders, now)
        if deleted:
            _log.info("retention: deleted %d segments", len(deleted))
        return deleted


def _prune_folders(folders: Iterable[Path], now: float) -> None:
    """Remove emptied day folders (``YYYY-MM-DD``) older than yesterday (UTC): today's may
    be about to receive a new segment."""
    yesterday = (datetime.fromtimestamp(now, UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    for folder in folders:
        name = folder.name
        if len(name) == 10 and name[4] == "-" and name[7] == "-" and name < yesterday:
            with contextlib.suppress(OSError):  # not empty, or already gone
                folder.rmdir()


def _now() -> float:
    return time.time()


def store_events(store: EventStore) -> EventsQuery:
    """An `EventsQuery` over an `EventStore`: (source, start_time, end_time) of its events.

    This assumes the stored times of live cameras' events are wall clock (seconds since
    the epoch) — the time base of the recording index.
    """

    def query(since: float) -> Iterable[EventSpan]:
        return [(e.source, e.start_time, e.end_time) for e in store.query(since=since, limit=None)]

    return query
