import pytest

PERSON, CAR = 0, 2
IN, OUT = (400, 400), (900, 900)


def test_threshold_alarm_and_samples(sim):
    s = sim("occupancy", {"zone": "square", "threshold": 3, "min_seconds": 1, "report_interval": 1})
    for i in range(50):
        objs = [(1, PERSON, *IN), (2, PERSON, 300, 300), (8, CAR, *IN)]
        if i >= 10:
            objs.append((3, PERSON, *(IN if i < 40 else OUT)))
        s.step(objs)
    samples = s.of(type="occupancy")
    assert [(e.frame_index, e.attributes["count"]) for e in samples] == [
        (0, 0),
        (10, 2),
        (20, 3),
        (30, 3),
        (40, 3),
    ]
    assert samples[2].attributes["by_class"] == {"person": 3}
    assert all(e.state == "instant" and e.zone == "square" for e in samples)
    start, end = s.of(type="occupancy_alarm")
    assert (start.state, start.frame_index, start.attributes) == ("start", 22, {"count": 3})
    assert (end.state, end.frame_index, end.end_time) == ("end", 44, pytest.approx(4.4))
    assert end.attributes["max_count"] == 3 and end.attributes["reason"] == "below"
    assert end.id == start.id
    assert s.app.counters() == {"current": 2.0, "max": 3.0}


def test_no_alarm_below_threshold_and_no_samples_when_disabled(sim):
    s = sim("occupancy", {"zone": "square", "threshold": 3, "report_interval": 0})
    s.run([[(1, PERSON, *IN), (2, PERSON, *IN), (3, PERSON, *OUT)] for _ in range(30)])
    assert s.events == []
    assert s.app.counters() == {"current": 2.0, "max": 2.0}


def test_whole_frame_when_no_zone(sim):
    s = sim("occupancy", {"threshold": 2, "report_interval": 0})
    s.run([[(1, PERSON, *IN), (2, PERSON, *OUT)] for _ in range(5)])
    assert [(e.state, e.frame_index, e.zone) for e in s.events] == [("start", 2, None)]
    (end,) = s.finish()
    assert end.attributes["reason"] == "end_of_stream"
