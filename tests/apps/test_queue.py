"""The built-in ``queue`` app on synthetic tracks whose waits and service are exact."""

import pytest

PERSON = 0
IN, OUT = (400, 400), (900, 900)  # inside / outside the "square" zone of tests/apps/conftest.py


def test_length_waits_service_rate_and_estimated_wait(sim):
    s = sim("queue", {"zone": "square", "report_interval": 5, "max_wait": 3, "inertia": 1})
    # 10 fps. Person 1 waits 0-4 s then is served; person 2 waits 1-8 s then is served;
    # person 3 joins at 6 s and is still waiting at 10 s.
    for i in range(101):
        t = i / 10
        objs = [(1, PERSON, *(IN if t < 4 else OUT))]
        if t >= 1:
            objs.append((2, PERSON, *(IN if t < 8 else OUT)))
        if t >= 6:
            objs.append((3, PERSON, *IN))
        s.step(objs)
    served = s.of(type="served")
    assert [(e.track_id, e.attributes["wait"]) for e in served] == [
        (1, pytest.approx(4.0)),
        (2, pytest.approx(7.0)),
    ]
    long = s.of(type="long_wait")
    assert [(e.track_id, e.frame_index) for e in long] == [(1, 30), (2, 40), (3, 90)]
    reports = s.of(type="queue")
    assert [e.frame_index for e in reports] == [0, 50, 100]
    last = reports[-1].attributes
    assert last["count"] == 1 and last["max_wait"] == pytest.approx(4.0)
    # Two served in the 10 s so far: 12 per minute; one waiting: an estimated 5 s.
    assert last["served_per_min"] == pytest.approx(12.0)
    assert last["est_wait"] == pytest.approx(5.0)
    assert s.app.counters()["served"] == 2.0


def test_a_track_lost_in_the_queue_is_not_served(sim):
    s = sim("queue", {"zone": "square", "report_interval": 100, "inertia": 1, "lost_timeout": 1})
    s.run([[(1, PERSON, *IN)] for _ in range(10)] + [[] for _ in range(20)])
    assert s.of(type="served") == []
    assert s.app.stats()["count"] == 0 and s.app.stats()["est_wait"] is None


def test_needs_a_zone(sim):
    with pytest.raises(Exception, match="zone"):
        sim("queue", {})
