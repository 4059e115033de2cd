"""Retention: which recording segments, snapshots, cached clips and event rows to delete,
by age per recording mode, by a disk budget and by a free-space floor; footage events still
need is protected up to a share of the budget.

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
camera's `event_days` (counted from the event's start) the age rules keep the segment.

Disk budget: when the indexed segments, the snapshots and the cached clips together exceed
`budget_bytes` after the age rules, cached clips go first, then the oldest segments and
snapshots (across cameras) until the total fits. Footage events reference may hold
`event_share` of the budget: beyond that share the oldest of it goes too (an app that
fires every few seconds references every segment, and must not stop the budget). What the
budget cannot free (only fresh footage left) is logged as a warning.

Free-space floor: when the disk of the recordings has less than twice `min_free_bytes` free
(`disk_pressure`), the oldest files go, whatever references them and however fresh, until
twice the floor is free again: the database on that disk must never fill, and the segmenter
pauses recording below the floor itself.

Maximums (a camera's privacy policy: the most the site may keep, whatever else holds it):
segments older than `max_days` go even when events reference them, events (rows) and
snapshots older than `events_days` / `snapshots_days` go (an event no longer protects
footage past either maximum), and the per-frame boxes stored beside a segment
(``<segment>.boxes``) go once older than `boxes_days`, the segment staying.

Nothing younger than `grace_seconds` is deleted by age, maximum or budget (events arrive late and
reach back by their pre-roll), and only finished, indexed segments are considered, so a
segment still being written (a ``.part`` file, not in the index) is never touched.
Snapshots (with the boxes written beside them) live `events_days` (like the event rows,
deleted by `run_pass` in bounded batches) or their camera's shorter maximum, cached clips
`clip_days`.

`RetentionPolicy.plan()` decides (reads the index, the events and the given files, changes
nothing); `apply()` deletes the planned files and rows; `run_pass()` is the service's whole
pass over a storage directory. The selection itself (`select_expired`,
`select_over_budget`, `EventCover`) is pure and works on plain iterables.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from vigil.privacy.boxes import BOXES_SUFFIX, boxes_path
from vigil.recording.index import Segment, SegmentIndex
from vigil.recording.rules import DAY, CameraRetention, KeptDays, RecordMode, camera_retention

if TYPE_CHECKING:
    from vigil.events.store import EventStore
    from vigil.forensics.store import TrackStore

__all__ = [
    "DAY",
    "CameraRetention",
    "Deletion",
    "EventCover",
    "EventSpan",
    "EventsQuery",
    "KeptDays",
    "PassReport",
    "RecordMode",
    "RetentionPolicy",
    "StoredFile",
    "camera_retention",
    "disk_pressure",
    "run_pass",
    "select_expired",
    "select_over_budget",
    "store_events",
    "stored_files",
]

_log = logging.getLogger(__name__)

#: (camera, start, end) of an event in wall-clock seconds; end None while it goes on.
EventSpan = tuple[str, float, float | None]
#: Events that started at or after `since` (wall clock), as `EventSpan`s.
EventsQuery = Callable[[float], Iterable[EventSpan]]


def _boxes_before(camera_dir: Path, camera: str, cutoff: float) -> list[StoredFile]:
    """The per-frame boxes stored beside the camera's segments (``<camera_dir>/<YYYY-MM-DD>/
    <segment>.boxes``, written when the segment ends) before `cutoff`: one listing per day
    folder up to the cutoff's day, so a pass costs no query per segment however long the
    recordings are kept."""
    last_day = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d")
    out: list[StoredFile] = []
    with contextlib.suppress(FileNotFoundError):
        for day in os.scandir(camera_dir):
            if day.name <= last_day and day.is_dir(follow_symlinks=False):
                out += [
                    f for f in _scan(day.path, BOXES_SUFFIX, "boxes", camera) if f.time < cutoff
                ]
    return out


class Footage(Protocol):
    """What retention weighs: a segment or a stored file (a camera's span on disk)."""

    @property
    def camera(self) -> str: ...
    @property
    def start_time(self) -> float: ...
    @property
    def end_time(self) -> float: ...
    @property
    def size_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A snapshot (``<snapshots>/<camera>/<event id>.jpg``), a cached clip or a segment's
    stored boxes (``<segment>.boxes``), timed by its modification time."""

    kind: Literal["snapshot", "clip", "boxes"]
    path: str
    camera: str
    time: float
    size_bytes: int

    @property
    def start_time(self) -> float:
        return self.time

    @property
    def end_time(self) -> float:
        return self.time


@dataclass(frozen=True, slots=True)
class Deletion:
    segment: Segment | StoredFile
    reason: str  # "age", "limit" (a camera's maximum), "budget" or "floor"


class EventCover:
    """The time ranges of each camera that events still reference (pure, in memory)."""

    def __init__(
        self,
        spans: Iterable[EventSpan],
        rules: Callable[[str], CameraRetention],
        now: float,
    ) -> None:
        # Ranges are merged as they come (events arrive start-ordered, so the lists stay
        # short however many events there are), then sorted and merged once more.
        by_camera: dict[str, list[list[float]]] = {}
        for camera, start, end in spans:
            rule = rules(camera)
            if now - start >= rule.protect_days * DAY:
                continue
            stop = now if end is None else max(end, start)
            a, b = start - rule.pre_roll, stop + rule.post_roll
            ranges = by_camera.setdefault(camera, [])
            if ranges and a <= ranges[-1][1] and b >= ranges[-1][0]:
                ranges[-1][0] = min(ranges[-1][0], a)
                ranges[-1][1] = max(ranges[-1][1], b)
            else:
                ranges.append([a, b])
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

    def protects(self, segment: Footage) -> bool:
        """Whether an event within its retention references `segment` (or a file's time)."""
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
    oldest_first: Iterable[Segment | StoredFile],
    excess: int,
    cover: EventCover,
    now: float,
    grace: float,
    skip: frozenset[str] | set[str] = frozenset(),
    referenced_allowance: int = 0,
) -> list[Deletion]:
    """Oldest items whose sizes add up to at least `excess` bytes, skipping those in `skip`
    (paths already planned) and those younger than `grace`; of the items events reference,
    only the oldest `referenced_allowance` bytes may go (pure)."""
    out: list[Deletion] = []
    freed = 0
    for item in oldest_first:
        if freed >= excess:
            break
        if item.path in skip or item.end_time >= now - grace:
            continue
        if cover.protects(item):
            if referenced_allowance <= 0:
                continue
            referenced_allowance -= item.size_bytes
        out.append(Deletion(item, "budget"))
        freed += item.size_bytes
    return out


def _select_for_floor(
    oldest_first: Iterable[Segment | StoredFile], shortfall: int, skip: set[str]
) -> list[Deletion]:
    """Oldest items adding up to `shortfall` bytes, whatever references them (pure)."""
    out: list[Deletion] = []
    freed = 0
    for item in oldest_first:
        if freed >= shortfall:
            break
        if item.path not in skip:
            out.append(Deletion(item, "floor"))
            freed += item.size_bytes
    return out


@dataclass(slots=True)
class RetentionPolicy:
    """Retention rules per camera (`default` for cameras not listed), a disk budget in bytes
    across all cameras (None: no budget) with the `event_share` of it that footage events
    reference may hold, the free-space floor, the grace period of fresh footage, and how
    long snapshots (with their events: `events_days`, None: no limit) and cached clips
    (`clip_days`) stay."""

    cameras: Mapping[str, CameraRetention] = field(default_factory=dict)
    default: CameraRetention = field(default_factory=CameraRetention)
    budget_bytes: int | None = None
    grace_seconds: float = 300.0
    event_share: float = 0.5
    min_free_bytes: int = 0
    events_days: float | None = None
    clip_days: float = 1.0

    def __post_init__(self) -> None:
        if self.budget_bytes is not None and self.budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {self.budget_bytes}")
        for name in ("grace_seconds", "min_free_bytes", "clip_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.event_share <= 1:
            raise ValueError(f"event_share must be within [0, 1], got {self.event_share}")
        if self.events_days is not None and self.events_days < 0:
            raise ValueError(f"events_days must be >= 0, got {self.events_days}")

    def rules(self, camera: str) -> CameraRetention:
        return self.cameras.get(camera, self.default)

    def plan(
        self,
        index: SegmentIndex,
        events_query: EventsQuery,
        now: float | None = None,
        *,
        files: Iterable[StoredFile] = (),
        free_bytes: int | None = None,
    ) -> list[Deletion]:
        """What `apply()` would delete now; reads the index and the events only.

        `files` are the snapshots and cached clips on disk, `free_bytes` the free space of
        the recordings' disk (None: the floor is not checked)."""
        now = _now() if now is None else float(now)
        rules = [self.default, *self.cameras.values()]
        longest = max(r.protect_days for r in rules)
        cover = EventCover(events_query(now - longest * DAY), self.rules, now)
        clips = sorted((f for f in files if f.kind == "clip"), key=lambda f: f.time)
        snapshots = sorted((f for f in files if f.kind == "snapshot"), key=lambda f: f.time)
        plan = self._expired(index, cover, clips, snapshots, now)

        def oldest_first(ended_before: float) -> Iterator[Segment | StoredFile]:
            """Cached clips (they can be cut again), then segments and snapshots by age."""
            yield from clips
            segments: Iterable[Segment | StoredFile] = index.iter_oldest(
                None, ended_before=ended_before
            )
            by_age: Iterable[Segment | StoredFile] = snapshots
            yield from heapq.merge(segments, by_age, key=lambda item: item.end_time)

        planned = {d.segment.path for d in plan}
        freed = sum(d.segment.size_bytes for d in plan)
        if self.budget_bytes is not None:
            stored = index.total_bytes() + sum(f.size_bytes for f in files)
            excess = stored - freed - self.budget_bytes
            extra = self._over_budget(excess, oldest_first, cover, now, planned)
            plan += extra
            planned.update(d.segment.path for d in extra)
            freed += sum(d.segment.size_bytes for d in extra)
        if free_bytes is not None and disk_pressure(free_bytes, self.min_free_bytes):
            # Back to twice the floor, so recording does not pause before the next pass.
            shortfall = 2 * self.min_free_bytes - free_bytes - freed
            if shortfall > 0:
                extra = _select_for_floor(oldest_first(now), shortfall, planned)
                _warn_at_most_every_minute(
                    "floor",
                    "only %d bytes free on the recordings' disk (floor %d): deleting the "
                    "%d oldest files whatever references them",
                    free_bytes,
                    self.min_free_bytes,
                    len(extra),
                )
                plan += extra
        return plan

    def _expired(
        self,
        index: SegmentIndex,
        cover: EventCover,
        clips: list[StoredFile],
        snapshots: list[StoredFile],
        now: float,
    ) -> list[Deletion]:
        """What is past its age or its camera's maximum: segments per camera and kind of
        footage, their stored boxes, cached clips, and snapshots when events expire."""
        grace = self.grace_seconds
        plan: list[Deletion] = []
        for camera in index.cameras():
            rule = self.rules(camera)
            inactive, active = rule.cutoffs(now, grace)
            for flag, cutoff in ((False, inactive), (True, active)):
                candidates = index.iter_oldest(camera, ended_before=cutoff, active=flag)
                plan += select_expired(candidates, self.rules, cover, now, grace)
            plan += self._past_maximums(index, camera, rule, {d.segment.path for d in plan}, now)
        plan += [Deletion(f, "age") for f in clips if f.time < now - self.clip_days * DAY]
        taken_before = {
            camera: self.rules(camera).snapshot_cutoff(now, self.events_days)
            for camera in {f.camera for f in snapshots}
        }
        plan += [
            Deletion(f, "age")
            for f in snapshots
            if (before := taken_before[f.camera]) is not None and f.time < before
        ]
        return plan

    def _past_maximums(
        self, index: SegmentIndex, camera: str, rule: CameraRetention, planned: set[str], now: float
    ) -> list[Deletion]:
        """`camera`'s segments older than its `max_days`, whatever references them, and the
        stored boxes of its segments older than its `boxes_days`."""
        grace = self.grace_seconds
        plan: list[Deletion] = []
        if rule.max_days is not None:
            cutoff = min(now - rule.max_days * DAY, now - grace)
            for seg in index.iter_oldest(camera, ended_before=cutoff):
                if seg.path not in planned:
                    plan.append(Deletion(seg, "limit"))
                    planned.add(seg.path)
        if rule.boxes_days is not None:
            first = index.oldest(camera, limit=1)
            if first:
                cutoff = min(now - rule.boxes_days * DAY, now - grace)
                stored = _boxes_before(Path(first[0].path).parent.parent, camera, cutoff)
                plan += [Deletion(f, "limit") for f in stored]
        return plan

    def _over_budget(
        self,
        excess: int,
        oldest_first: Callable[[float], Iterator[Segment | StoredFile]],
        cover: EventCover,
        now: float,
        planned: set[str],
    ) -> list[Deletion]:
        """The oldest footage to delete for `excess` bytes over the budget, events' footage
        only beyond their share of it; a warning when that is not enough."""
        if excess <= 0 or self.budget_bytes is None:
            return []
        grace = self.grace_seconds
        referenced = sum(
            item.size_bytes
            for item in oldest_first(now - grace)
            if item.path not in planned and cover.protects(item)
        )
        extra = select_over_budget(
            oldest_first(now - grace),
            excess,
            cover,
            now,
            grace,
            planned,
            referenced_allowance=round(referenced - self.event_share * self.budget_bytes),
        )
        left = excess - sum(d.segment.size_bytes for d in extra)
        if left > 0:
            _warn_at_most_every_minute(
                "budget",
                "recordings exceed the disk budget by %d bytes; the rest is "
                "footage younger than %.0f s or events' share of the budget",
                left,
                grace,
            )
        return extra

    def apply(
        self,
        index: SegmentIndex,
        events_query: EventsQuery,
        now: float | None = None,
        *,
        files: Iterable[StoredFile] = (),
        free_bytes: int | None = None,
    ) -> list[str]:
        """Delete the planned segments (files, then rows) and stored files; returns the
        deleted paths.

        A file that is already gone still loses its row; one that cannot be deleted
        (permissions) keeps its row and is tried again next time.
        """
        now = _now() if now is None else float(now)
        deleted_ids: list[int] = []
        deleted: list[str] = []
        folders: set[Path] = set()
        plan = self.plan(index, events_query, now, files=files, free_bytes=free_bytes)
        for item in plan:
            path = Path(item.segment.path)
            segment = item.segment if isinstance(item.segment, Segment) else None
            if segment is not None and path.suffix != ".mp4":
                _log.error("retention: not deleting %s (not an .mp4); row removed", path)
                deleted_ids.append(segment.id)
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as err:
                _log.error("retention: cannot delete %s: %s", path, err)
                continue
            if segment is not None:
                # The segment's tracked boxes (for masking) go with it.
                with contextlib.suppress(OSError):
                    boxes_path(path).unlink(missing_ok=True)
                deleted_ids.append(segment.id)
                folders.add(path.parent)
            deleted.append(str(path))
        index.delete(deleted_ids)
        _prune_folders(folders, now)
        if deleted:
            _log.info("retention: deleted %d files", len(deleted))
        return deleted


_warned: dict[str, float] = {}


def _warn_at_most_every_minute(kind: str, message: str, *args: object) -> None:
    """Log a warning of this kind at most once a minute (passes under pressure come every
    few seconds)."""
    now = time.monotonic()
    if now - _warned.get(kind, -1e9) >= 60.0:
        _warned[kind] = now
        _log.warning(message, *args)


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
    """An `EventsQuery` over an `EventStore`: (source, start_time, end_time) of its events,
    streamed from the database (never the whole events in memory).

    This assumes the stored times of live cameras' events are wall clock (seconds since
    the epoch) — the time base of the recording index.
    """
    return store.spans


#: A snapshot, its object crop (``*.crop.jpg``) and the tracked boxes written beside it for
#: masking them when served (written with it, so the same age and budget rules delete all).
SNAPSHOT_SUFFIXES = (".jpg", ".boxes.json")


def stored_files(snapshots_dir: Path, clips_dir: Path) -> list[StoredFile]:
    """The snapshots (``<snapshots_dir>/<camera>/*.jpg``, and their ``*.boxes.json``) and
    cached clips (``<clips_dir>/*.mp4``) on disk; a folder that is not there holds
    nothing."""
    out: list[StoredFile] = []
    with contextlib.suppress(FileNotFoundError):
        for folder in os.scandir(snapshots_dir):
            if folder.is_dir(follow_symlinks=False):
                out += _scan(folder.path, SNAPSHOT_SUFFIXES, "snapshot", folder.name)
    out += _scan(clips_dir, ".mp4", "clip", "")
    return out


def _scan(
    folder: str | Path,
    suffix: str | tuple[str, ...],
    kind: Literal["snapshot", "clip", "boxes"],
    camera: str,
) -> list[StoredFile]:
    out = []
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(suffix):
                continue
            with contextlib.suppress(OSError):  # deleted meanwhile
                info = entry.stat(follow_symlinks=False)
                out.append(StoredFile(kind, entry.path, camera, info.st_mtime, info.st_size))
    return out


def disk_pressure(free_bytes: int, min_free_bytes: int) -> bool:
    """Whether a disk with `free_bytes` free is near its floor: under twice the floor, where
    recording soon pauses and retention deletes footage events still reference."""
    return free_bytes < 2 * min_free_bytes


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one `run_pass` did and found."""

    deleted_files: int
    deleted_events: int
    free_bytes: int
    #: `disk_pressure` before or after the pass: the next pass should come soon.
    pressure: bool


def run_pass(
    policy: RetentionPolicy,
    index: SegmentIndex,
    events: EventStore,
    storage: Path,
    now: float | None = None,
    tracks: TrackStore | None = None,
) -> PassReport:
    """The service's retention pass over its storage directory (``recordings``,
    ``snapshots``, ``exports/clips``): segments, snapshots and cached clips by `policy`,
    then event rows older than `policy.events_days` or their camera's maximum, and track
    summaries (`tracks`) kept as long as their camera's recordings, in bounded batches."""
    now = _now() if now is None else float(now)
    files = stored_files(storage / "snapshots", storage / "exports" / "clips")
    free_before = shutil.disk_usage(storage).free
    deleted = policy.apply(index, store_events(events), now, files=files, free_bytes=free_before)
    removed = 0
    if policy.events_days is not None:
        removed = events.delete_before(now - policy.events_days * DAY)
    for camera, rule in policy.cameras.items():
        if rule.events_days is not None:
            removed += events.delete_before(now - rule.events_days * DAY, source=camera)
    if removed:
        _log.info("retention: deleted %d events past their retention", removed)
    if tracks is not None:
        for camera, rule in policy.cameras.items():
            kept = rule.kept_days(policy.events_days).recordings
            tracks.delete_before(now - kept * DAY, source=camera)
    free = shutil.disk_usage(storage).free
    pressure = disk_pressure(min(free, free_before), policy.min_free_bytes)
    return PassReport(len(deleted), removed, free, pressure)
