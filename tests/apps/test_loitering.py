import pytest

PERSON = 0
IN, OUT = (400, 400), (100, 100)


def test_loitering_starts_at_threshold_updates_and_ends_on_exit(sim):
    s = sim("loitering", {"zone": "square", "update_interval": 2})
    for i in range(160):
        objs = [(1, PERSON, *(IN if i < 150 else OUT))]
        if 10 <= i < 45:  # a passer-by: 3 s in the zone, never loiters
            objs.append((2, PERSON, *((300, 300) if i < 40 else OUT)))
        s.step(objs)
    assert [(e.state, e.frame_index, e.track_id) for e in s.events] == [
        ("start", 100, 1),
        ("update", 120, 1),
        ("update", 140, 1),
        ("end", 152, 1),
    ]
    start, _, _, end = s.events
    assert start.start_time == pytest.approx(10.0)
    assert start.attributes == {"entered_at": 0.0, "dwell": 10.0}
    assert len({e.id for e in s.events}) == 1
    assert end.end_time == pytest.approx(15.2)
    assert end.attributes == {"entered_at": 0.0, "dwell": 15.0, "reason": "left"}
    assert s.app.counters() == {
        "dwellers": 0.0,
        "loitering": 0.0,
        "visits": 2.0,
        "mean dwell": 9.0,
        "max dwell": 15.0,
    }


def test_live_counters_while_loitering(sim):
    s = sim("loitering", {"zone": "square", "min_seconds": 1})
    s.run([[(1, PERSON, *IN), (2, PERSON, *OUT)] for _ in range(21)])
    assert s.app.counters() == {
        "dwellers": 1.0,
        "loitering": 1.0,
        "visits": 0.0,
        "mean dwell": 0.0,
        "max dwell": 2.0,
    }
    (end,) = s.finish()
    assert end.attributes["reason"] == "end_of_stream" and end.end_time == pytest.approx(2.0)


def test_unknown_zone_is_named(sim):
    with pytest.raises(ValueError, match=r"^unknown zone 'lobby' \(known: lane, road, square\)$"):
        sim("loitering", {"zone": "lobby"})
