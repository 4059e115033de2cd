"""Per-track state, vectorised: `TrackTable`, `TrackVelocity`, `GroundSpeed`, `TrackInertia`, `ZoneTracker`,
`LineCrossingTracker`.

All of them take a frame's ``tracker_ids`` (N,) plus per-object arrays and update per-track
state with numpy (ids are kept sorted; lookup is ``np.searchsorted``), so a frame costs
O(N log M) whatever the number of tracks M. Time is the caller's clock (``now``, usually the
frame's pts in seconds); when ``now`` is omitted the number of ``update`` calls is used, so
``forget_after`` is then counted in frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.geometry.ground import GroundPlane
from vigil.geometry.shapes import Line, Zone


class TrackTable:
    """Columns of per-track state keyed by tracker id.

    ``TrackTable(state=(bool, False), xy=(np.float64, np.nan, (2,)))`` declares columns as
    ``(dtype, fill[, trailing shape])``. ``slots(ids)`` returns row indices (adding rows for
    new ids); ``table["xy"][rows] = ...`` reads/writes a column. Adding or removing rows
    invalidates earlier row indices and column references — fetch them again afterwards.
    """

    def __init__(self, **columns: tuple[Any, ...]) -> None:
        self._spec: dict[str, tuple[np.dtype, Any, tuple[int, ...]]] = {}
        self._cols: dict[str, np.ndarray] = {}
        for name, spec in columns.items():
            dtype, fill = np.dtype(spec[0]), spec[1]
            shape = tuple(spec[2]) if len(spec) > 2 else ()
            self._spec[name] = (dtype, fill, shape)
            self._cols[name] = np.empty((0, *shape), dtype=dtype)
        self.ids = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name]

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row index and a found-mask for each id (index is meaningless where not found)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(self.ids) == 0:
            return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=bool)
        idx = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return idx, self.ids[idx] == ids

    def slots(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row index for each id, adding rows (filled with defaults) for unknown ids.

        Returns ``(rows, new)`` where ``new`` marks the ids that were just added.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        new = ~np.isin(ids, self.ids)
        if new.any():
            fresh = np.unique(ids[new])
            all_ids = np.concatenate([self.ids, fresh])
            order = np.argsort(all_ids, kind="stable")
            self.ids = all_ids[order]
            for name, (dtype, fill, shape) in self._spec.items():
                pad = np.full((len(fresh), *shape), fill, dtype=dtype)
                self._cols[name] = np.concatenate([self._cols[name], pad])[order]
        return np.searchsorted(self.ids, ids), new

    def remove(self, rows_mask: np.ndarray) -> None:
        """Drop the rows where `rows_mask` (len(self),) is True."""
        keep = ~np.asarray(rows_mask, dtype=bool)
        self.ids = self.ids[keep]
        for name in self._cols:
            self._cols[name] = self._cols[name][keep]

    def discard(self, ids: np.ndarray) -> None:
        """Drop the rows of these ids (unknown ids are ignored)."""
        self.remove(np.isin(self.ids, np.asarray(ids, dtype=np.int64)))


class TrackVelocity:
    """Each track's velocity from a short history of its positions (any unit: pixels, or
    metres after a `vigil.geometry.ground.GroundPlane`).

    `update` records a frame's positions and returns each object's displacement per second
    against its oldest sample no older than `window` seconds; the velocity is unknown (NaN)
    until the history spans at least half the window. `history` samples are kept per track
    (enough for a 1 s window up to 64 analysed frames per second).
    """

    def __init__(self, window: float = 1.0, history: int = 64):
        self.window = float(window)
        self.history = int(history)
        self._table = TrackTable(
            t=(np.float64, np.nan, (self.history,)),
            xy=(np.float64, np.nan, (self.history, 2)),
            n=(np.int64, 0),
        )

    def __len__(self) -> int:
        return len(self._table)

    def update(self, tracker_ids: np.ndarray, points: np.ndarray, now: float) -> np.ndarray:
        """Record this frame's (N, 2) `points` of `tracker_ids` at time `now`; (N, 2)
        velocities in units per second, NaN where unknown (too short a history, or a NaN
        point)."""
        h = self._table
        rows, _ = h.slots(tracker_ids)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        slot = h["n"][rows] % self.history
        h["t"][rows, slot] = now
        h["xy"][rows, slot] = points
        h["n"][rows] += 1
        t = h["t"][rows]  # (N, K)
        recent = t >= now - self.window - 1e-9
        ref = np.argmin(np.where(recent, t, np.inf), axis=1)
        t_ref = t[np.arange(len(rows)), ref]
        xy_ref = h["xy"][rows, ref]
        dt = now - t_ref
        known = dt >= 0.5 * self.window - 1e-9
        velocity: np.ndarray = (points - xy_ref) / np.where(known, dt, 1.0)[:, None]
        velocity[~known] = np.nan
        return velocity

    def discard(self, tracker_ids: np.ndarray) -> None:
        """Forget these tracks (unknown ids are ignored)."""
        self._table.discard(tracker_ids)


MS_TO_KMH = 3.6


class GroundSpeed:
    """Each track's speed on the ground in km/h: its image points mapped to metres by a
    `GroundPlane`, then a `TrackVelocity` over `window` seconds."""

    def __init__(self, plane: GroundPlane, window: float = 1.0):
        self.plane = plane
        self._velocity = TrackVelocity(window)

    def update(self, tracker_ids: np.ndarray, points: np.ndarray, now: float) -> np.ndarray:
        """Record this frame's (N, 2) image `points` (pixels); (N,) speeds in km/h, NaN while
        unknown (see `TrackVelocity.update`)."""
        velocity = self._velocity.update(tracker_ids, self.plane.to_metres(points), now)
        speeds: np.ndarray = np.hypot(velocity[:, 0], velocity[:, 1]) * MS_TO_KMH
        return speeds

    def discard(self, tracker_ids: np.ndarray) -> None:
        """Forget these tracks."""
        self._velocity.discard(tracker_ids)


@dataclass(frozen=True, slots=True)
class LostTracks:
    """Tracks forgotten in an update: not seen for longer than ``forget_after``."""

    ids: np.ndarray  # (K,) int64
    state: np.ndarray  # (K,) bool — confirmed state when last seen (e.g. inside the zone)
    since: np.ndarray  # (K,) float — when that state began
    last_seen: np.ndarray  # (K,) float — clock time of the last update that included the track

    @classmethod
    def none(cls) -> LostTracks:
        e = np.empty(0)
        return cls(np.empty(0, np.int64), np.empty(0, bool), e, e.copy())


@dataclass(frozen=True, slots=True)
class InertiaUpdate:
    """Result of `TrackInertia.update` for the N objects of the frame (same order)."""

    state: np.ndarray  # (N,) bool — confirmed (debounced) state after this frame
    changed: np.ndarray  # (N,) bool — the confirmed state flipped on this frame
    since: np.ndarray  # (N,) float — when the confirmed state began (first frame of its streak)
    lost: LostTracks
    raw: np.ndarray  # (N,) bool — this frame's raw observation (e.g. anchor inside the zone)

    @property
    def entered(self) -> np.ndarray:
        """(N,) bool — became True on this frame."""
        return self.changed & self.state

    @property
    def exited(self) -> np.ndarray:
        """(N,) bool — became False on this frame (while still visible)."""
        return self.changed & ~self.state


class TrackInertia:
    """A per-track boolean with inertia (debounce), as Frigate does for zones.

    The confirmed state turns True after ``enter_frames`` consecutive raw-True observations
    and False after ``exit_frames`` consecutive raw-False observations; frames where a track
    is absent do not vote. New tracks start False (or at ``initial``). ``since`` is backdated
    to the first frame of the confirming streak, so dwell = now - since includes the
    inertia frames. Tracks not seen for more than ``forget_after`` (clock units) are dropped
    and reported once in ``InertiaUpdate.lost``.
    """

    def __init__(self, enter_frames: int = 3, exit_frames: int = 3, forget_after: float = 30.0):
        if enter_frames < 1 or exit_frames < 1:
            raise ValueError("inertia must be at least 1 frame")
        if forget_after < 0:
            raise ValueError("forget_after must be >= 0")
        self.enter_frames = int(enter_frames)
        self.exit_frames = int(exit_frames)
        self.forget_after = float(forget_after)
        self._ticks = 0
        self._table = TrackTable(
            state=(bool, False),
            streak=(np.int32, 0),
            streak_start=(np.float64, np.nan),
            since=(np.float64, np.nan),
            last_seen=(np.float64, np.nan),
        )

    def __len__(self) -> int:
        return len(self._table)

    @property
    def ids(self) -> np.ndarray:
        return self._table.ids

    def update(
        self,
        tracker_ids: np.ndarray,
        raw: np.ndarray,
        now: float | None = None,
        initial: np.ndarray | None = None,
    ) -> InertiaUpdate:
        """Feed one frame: unique ``tracker_ids`` (N,) with raw observations (N,) bool.

        ``initial`` (N,) bool, optional, is the starting state for tracks seen for the first
        time (default False: a new track inside a zone still needs ``enter_frames``).
        """
        self._ticks += 1
        now = float(self._ticks) if now is None else float(now)
        ids = np.asarray(tracker_ids, dtype=np.int64).reshape(-1)
        raw = np.asarray(raw, dtype=bool).reshape(len(ids))
        t = self._table
        rows, new = t.slots(ids)
        state, streak, streak_start, since = t["state"], t["streak"], t["streak_start"], t["since"]
        if new.any():
            init = np.zeros(len(ids), bool) if initial is None else np.asarray(initial, bool)
            state[rows[new]] = init.reshape(len(ids))[new]
            since[rows[new]] = now
        s = state[rows]
        disagree = raw != s
        st = np.where(disagree, streak[rows] + 1, 0)
        ss = np.where(disagree & (st == 1), now, streak_start[rows])
        need = np.where(s, self.exit_frames, self.enter_frames)
        flip = disagree & (st >= need)
        s_new = s ^ flip
        since_new = np.where(flip, ss, since[rows])
        st[flip] = 0
        state[rows] = s_new
        streak[rows] = st
        streak_start[rows] = ss
        since[rows] = since_new
        t["last_seen"][rows] = now
        lost = self._forget(now)
        return InertiaUpdate(state=s_new, changed=flip, since=since_new, lost=lost, raw=raw)

    def _forget(self, now: float) -> LostTracks:
        t = self._table
        stale = t["last_seen"] < now - self.forget_after
        if not stale.any():
            return LostTracks.none()
        lost = LostTracks(
            ids=t.ids[stale].copy(),
            state=t["state"][stale].copy(),
            since=t["since"][stale].copy(),
            last_seen=t["last_seen"][stale].copy(),
        )
        t.remove(stale)
        return lost

    def last_seen(self, tracker_ids: np.ndarray) -> np.ndarray:
        """Clock time each id was last updated (NaN for unknown ids)."""
        rows, found = self._table.lookup(tracker_ids)
        if len(self._table) == 0:
            return np.full(len(rows), np.nan)
        return np.where(found, self._table["last_seen"][rows], np.nan)

    def reset(self) -> None:
        self._table.remove(np.ones(len(self._table), dtype=bool))


class ZoneTracker(TrackInertia):
    """Zone membership with inertia: `TrackInertia` fed by ``zone.contains(anchors)``.

    ``zone=None`` means the whole frame (every object is inside after ``enter_frames``).
    """

    def __init__(
        self,
        zone: Zone | None,
        enter_frames: int = 3,
        exit_frames: int = 3,
        forget_after: float = 30.0,
    ):
        super().__init__(enter_frames, exit_frames, forget_after)
        self.zone = zone

    def update_points(
        self, tracker_ids: np.ndarray, anchors: np.ndarray, now: float | None = None
    ) -> InertiaUpdate:
        """Feed one frame: ``tracker_ids`` (N,) and their anchor points (N, 2) in pixels."""
        anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
        raw = np.ones(len(anchors), bool) if self.zone is None else self.zone.contains(anchors)
        return self.update(tracker_ids, raw, now)


@dataclass(frozen=True, slots=True)
class CrossingUpdate:
    """Result of `LineCrossingTracker.update` for the N objects of the frame."""

    crossed: np.ndarray  # (N,) bool
    direction: np.ndarray  # (N,) int8: +1 in, -1 out, 0 none
    lost_ids: np.ndarray  # ids forgotten on this frame


class LineCrossingTracker:
    """Counts line crossings per track, robust to anchors jittering on the line.

    Each track has a confirmed side of the line. A crossing is confirmed once the anchor has
    been on the other side for ``frames`` consecutive observations *and* the move from the
    last anchor on the old side to the first anchor on the new side crosses the segment
    (going round an end of the line changes side without counting). ``frames=1`` counts
    every raw crossing. Direction follows `Line` (left → right of start→end is ``in``).
    """

    def __init__(self, line: Line, frames: int = 2, forget_after: float = 30.0):
        if frames < 1:
            raise ValueError("inertia must be at least 1 frame")
        self.line = line
        self.frames = int(frames)
        self.forget_after = float(forget_after)
        self._ticks = 0
        self._table = TrackTable(
            side=(np.int8, 0),
            streak=(np.int32, 0),
            old_xy=(np.float64, np.nan, (2,)),
            new_xy=(np.float64, np.nan, (2,)),
            last_seen=(np.float64, np.nan),
        )

    def __len__(self) -> int:
        return len(self._table)

    def update(
        self, tracker_ids: np.ndarray, anchors: np.ndarray, now: float | None = None
    ) -> CrossingUpdate:
        self._ticks += 1
        now = float(self._ticks) if now is None else float(now)
        ids = np.asarray(tracker_ids, dtype=np.int64).reshape(-1)
        xy = np.asarray(anchors, dtype=np.float64).reshape(len(ids), 2)
        s = self.line.side(xy)
        t = self._table
        rows, new = t.slots(ids)
        side, streak, old_xy, new_xy = t["side"], t["streak"], t["old_xy"], t["new_xy"]
        side[rows[new]] = s[new]
        old_xy[rows[new]] = xy[new]
        agree = s == side[rows]
        st = np.where(agree, 0, streak[rows] + 1)
        old = np.where(agree[:, None], xy, old_xy[rows])
        nxt = np.where((~agree & (st == 1))[:, None], xy, new_xy[rows])
        flip = st >= self.frames
        crossed = np.zeros(len(ids), bool)
        if flip.any():
            crossed[flip] = self.line.crossings(old[flip], nxt[flip])[0]
        direction = np.where(crossed, s, 0).astype(np.int8)
        side[rows] = np.where(flip, s, side[rows])
        streak[rows] = np.where(flip, 0, st)
        old_xy[rows] = np.where(flip[:, None], xy, old)
        new_xy[rows] = nxt
        t["last_seen"][rows] = now
        stale = t["last_seen"] < now - self.forget_after
        lost_ids = t.ids[stale].copy()
        if stale.any():
            t.remove(stale)
        return CrossingUpdate(crossed=crossed, direction=direction, lost_ids=lost_ids)
