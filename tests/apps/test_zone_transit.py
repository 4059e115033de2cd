"""The built-in ``zone_transit`` app: region entrance and exit events with dwell."""

import pytest

PERSON, CAR = 0, 2
IN, OUT = (400, 400), (900, 900)


def test_entered_and_exited_with_dwell_backdated_by_inertia(sim):
    s = sim("zone_transit", {"zone": "square", "classes": ["person"], "inertia": 3})
    frames = [[(1, PERSON, *OUT), (9, CAR, *IN)]] * 5 + [[(1, PERSON, *IN), (9, CAR, *IN)]] * 20
    frames += [[(1, PERSON, *OUT)]] * 10
    s.run(frames)
    entered, exited = s.events
    assert (entered.type, entered.track_id, entered.start_time) == (
        "entered",
        1,
        pytest.approx(0.5),
    )
    assert entered.frame_index == 7  # confirmed after 3 frames inside
    assert exited.type == "exited" and exited.attributes["reason"] == "left"
    assert exited.attributes["dwell"] == pytest.approx(2.2, abs=0.11)  # confirmed at 2.7 s
    assert s.app.counters() == {"inside": 0.0, "entered": 1.0, "exited": 1.0}


def test_vanishing_inside_exits_at_the_last_sighting(sim):
    s = sim("zone_transit", {"zone": "square", "inertia": 1, "lost_timeout": 1})
    s.run([[(1, PERSON, *IN)]] * 10 + [[]] * 15)
    entered, exited = s.events
    assert exited.attributes["reason"] == "lost"
    assert exited.start_time == pytest.approx(0.9)
    assert exited.attributes["dwell"] == pytest.approx(0.9)
