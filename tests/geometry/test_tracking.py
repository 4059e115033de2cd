import numpy as np
import pytest

from vigil.geometry import Line, LineCrossingTracker, TrackInertia, TrackTable, Zone, ZoneTracker


def test_track_table_slots_lookup_and_remove():
    t = TrackTable(v=(np.float64, -1.0), xy=(np.float64, np.nan, (2,)))
    rows, new = t.slots(np.array([7, 3]))
    assert new.tolist() == [True, True]
    t["v"][rows] = [70.0, 30.0]
    rows, new = t.slots(np.array([3, 5, 7]))
    assert new.tolist() == [False, True, False]
    assert t["v"][rows].tolist() == [30.0, -1.0, 70.0]
    assert t.ids.tolist() == [3, 5, 7]
    t.discard(np.array([5, 99]))
    idx, found = t.lookup(np.array([7, 5]))
    assert found.tolist() == [True, False]
    assert t["v"][idx[0]] == 70.0
    assert t["xy"].shape == (2, 2)


def test_inertia_suppresses_a_one_frame_flicker():
    inert = TrackInertia(enter_frames=3, exit_frames=3)
    ids = np.array([1])
    states = [bool(inert.update(ids, np.array([r])).state[0]) for r in [0, 1, 0, 0, 1, 0]]
    assert states == [False] * 6


def test_inertia_enter_and_exit_after_three_frames_with_backdated_since():
    inert = TrackInertia(3, 3, forget_after=100)
    ids = np.array([4])
    raw = [1, 1, 1, 1, 0, 0, 0]
    out = [inert.update(ids, np.array([r]), now=float(i)) for i, r in enumerate(raw)]
    assert [bool(u.state[0]) for u in out] == [False, False, True, True, True, True, False]
    assert [bool(u.entered[0]) for u in out].index(True) == 2
    assert [bool(u.exited[0]) for u in out].index(True) == 6
    assert out[2].since[0] == 0.0  # entered at the first frame inside
    assert out[6].since[0] == 4.0  # left at the first frame outside


def test_inertia_forgets_tracks_and_reports_them_once():
    inert = TrackInertia(1, 1, forget_after=2.0)
    inert.update(np.array([1, 2]), np.array([True, False]), now=0.0)
    u = inert.update(np.array([2]), np.array([False]), now=2.0)
    assert len(u.lost.ids) == 0  # not yet: exactly forget_after
    u = inert.update(np.array([2]), np.array([False]), now=2.5)
    assert u.lost.ids.tolist() == [1]
    assert u.lost.state.tolist() == [True]
    assert u.lost.last_seen.tolist() == [0.0]
    assert inert.ids.tolist() == [2]
    u = inert.update(np.array([2]), np.array([False]), now=3.0)
    assert len(u.lost.ids) == 0


def test_inertia_initial_state_and_validation():
    inert = TrackInertia(3, 3)
    u = inert.update(np.array([1, 2]), np.array([True, True]), initial=np.array([True, False]))
    assert u.state.tolist() == [True, False]
    with pytest.raises(ValueError, match="at least 1 frame"):
        TrackInertia(0, 3)


def test_zone_tracker_uses_the_zone():
    zone = Zone("z", [(0, 0), (100, 0), (100, 100), (0, 100)]).to_pixels(200, 200)
    zt = ZoneTracker(zone, enter_frames=2, exit_frames=2)
    ids = np.array([1, 2])
    pts = np.array([[50, 50], [150, 50]])
    assert zt.update_points(ids, pts).state.tolist() == [False, False]
    assert zt.update_points(ids, pts).state.tolist() == [True, False]
    everywhere = ZoneTracker(None, 1, 1)
    assert everywhere.update_points(ids, pts).state.tolist() == [True, True]


def test_line_tracker_counts_once_despite_jitter_on_the_line():
    line = Line("l", (0, 100), (200, 100))
    lt = LineCrossingTracker(line, frames=2)
    ys = [80, 90, 99, 101, 99, 101, 102, 110, 120]  # jitter around y=100, then across
    dirs = []
    for y in ys:
        u = lt.update(np.array([1]), np.array([[50.0, y]]))
        dirs.append(int(u.direction[0]))
    assert dirs == [0, 0, 0, 0, 0, 0, 1, 0, 0]
    raw = LineCrossingTracker(line, frames=1)
    dirs = [int(raw.update(np.array([1]), np.array([[50.0, y]])).direction[0]) for y in ys]
    assert dirs == [0, 0, 0, 1, -1, 1, 0, 0, 0]


def test_line_tracker_ignores_passing_round_the_end():
    line = Line("l", (0, 100), (200, 100))
    lt = LineCrossingTracker(line, frames=1)
    path = [(250, 80), (250, 120), (150, 120), (150, 80)]
    dirs = [int(lt.update(np.array([9]), np.array([p], float)).direction[0]) for p in path]
    assert dirs == [0, 0, 0, -1]
