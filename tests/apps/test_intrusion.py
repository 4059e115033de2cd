from datetime import datetime

import pytest

PERSON, CAR = 0, 2
OUT, IN = (100, 100), (400, 400)  # outside / inside the "square" zone


def frames(spec):
    """spec: list of (count, position or None) for track 1 (a person)."""
    out = []
    for n, pos in spec:
        out += [[(1, PERSON, *pos)] if pos else [] for _ in range(n)]
    return out


def test_start_after_min_seconds_end_after_leaving_wrong_class_ignored(sim):
    s = sim("intrusion", {"zone": "square", "min_seconds": 2})
    for f in frames([(5, OUT), (30, IN), (10, OUT)]):
        s.step(f + [(9, CAR, *IN)])
    start, end = s.events
    assert (start.state, start.frame_index, start.start_time) == ("start", 25, pytest.approx(2.5))
    assert start.attributes == {"entered_at": 0.5}
    assert (start.track_id, start.class_name, start.zone) == (1, "person", "square")
    assert (end.state, end.frame_index, end.end_time) == ("end", 37, pytest.approx(3.7))
    assert end.id == start.id and end.start_time == start.start_time
    assert end.attributes["reason"] == "left"
    assert end.attributes["duration"] == pytest.approx(1.2)
    assert s.app.counters() == {"active": 0.0, "intrusions": 1.0}


def test_too_short_a_visit_does_not_fire(sim):
    s = sim("intrusion", {"zone": "square", "min_seconds": 2})
    s.run(frames([(5, OUT), (16, IN), (10, OUT)]))
    assert s.events == []


def test_inertia_suppresses_a_one_frame_flicker(sim):
    s = sim("intrusion", {"zone": "square"})
    s.run(frames([(5, OUT), (1, IN), (5, OUT), (2, IN), (5, OUT)]))
    assert s.events == []
    s.run(frames([(3, IN)]))
    assert [(e.state, e.frame_index) for e in s.events] == [("start", 20)]


def test_inertia_setting_one_fires_at_once(sim):
    s = sim("intrusion", {"zone": "square", "inertia": 1})
    s.run(frames([(2, OUT), (1, IN)]))
    assert [(e.state, e.frame_index) for e in s.events] == [("start", 2)]


def test_disappearing_track_ends_at_its_last_sighting(sim):
    s = sim("intrusion", {"zone": "square"})
    s.run(frames([(21, IN), (25, None)]))  # last seen at frame 20 (t=2.0)
    start, end = s.events
    assert start.frame_index == 2
    # forgotten once unseen for more than lost_timeout (2 s): at t=4.1
    assert (end.frame_index, end.end_time, end.attributes["reason"]) == (41, 2.0, "lost")


def test_finish_closes_open_events(sim):
    s = sim("intrusion", {"zone": "square"})
    s.run(frames([(10, IN)]))
    (end,) = s.finish()
    assert (end.state, end.end_time, end.attributes["reason"]) == ("end", 0.9, "end_of_stream")
    assert s.finish() == []


def test_schedule_arms_at_22h_on_mondays(sim):
    # 2024-01-01 is a Monday; the window opens at pts 2.0
    settings = {
        "zone": "square",
        "start_datetime": "2024-01-01T21:59:58",
        "schedule": [{"days": ["mon"], "start": "22:00", "end": "06:00"}],
    }
    s = sim("intrusion", settings)
    s.run(frames([(30, IN)]))
    assert [(e.state, e.frame_index) for e in s.events] == [("start", 20)]
    settings["schedule"] = [{"days": ["tue"], "start": "22:00", "end": "06:00"}]
    s = sim("intrusion", settings)
    s.run(frames([(30, IN)]))
    assert s.events == []


def test_schedule_end_closes_the_event(sim):
    # Sunday 22:00 -> Monday 06:00 window; Monday 06:00 is at pts 2.0
    s = sim(
        "intrusion",
        {
            "zone": "square",
            "start_datetime": "2024-01-01T05:59:58",
            "schedule": [{"days": ["sunday"], "start": "22:00", "end": "06:00"}],
        },
    )
    s.run(frames([(30, IN)]))
    start, end = s.events
    assert start.frame_index == 2
    assert (end.frame_index, end.end_time, end.attributes["reason"]) == (20, 2.0, "schedule")


def test_clock_hook_can_be_replaced(sim):
    s = sim("intrusion", {"zone": "square", "schedule": [{"start": "08:00", "end": "09:00"}]})
    s.app.clock = lambda ctx: (
        datetime(2024, 1, 1, 7, 59) if ctx.pts < 1 else datetime(2024, 1, 1, 8)
    )
    s.run(frames([(15, IN)]))
    assert [(e.state, e.frame_index) for e in s.events] == [("start", 10)]


def test_bad_schedule_time_is_a_validation_error(scene):
    from pydantic import ValidationError

    from vigil.apps.registry import build_app

    with pytest.raises(ValidationError, match="time must be HH:MM, got '25:00'"):
        build_app("intrusion", "x", {"zone": "square", "schedule": [{"start": "25:00"}]}, scene)
    with pytest.raises(ValidationError, match="unknown day 'funday'"):
        build_app("intrusion", "x", {"zone": "square", "schedule": [{"days": ["funday"]}]}, scene)
