import pytest

PERSON = 0
CLOSE = [(500, 500), (520, 500), (540, 500), (500, 520), (520, 520)]
SPREAD = [(100, 100), (300, 100), (500, 100), (700, 100), (900, 100)]


def people(points, ids=range(1, 100)):
    return [(tid, PERSON, x, y) for tid, (x, y) in zip(ids, points)]


def test_five_close_people_start_and_end_a_crowd(sim):
    s = sim("crowding", {})
    s.run([people(CLOSE)] * 20 + [people(SPREAD)] * 10)
    start, end = s.events
    assert (start.state, start.frame_index) == ("start", 2)
    assert start.attributes == {"count": 5, "centroid": [516.0, 508.0], "radius_px": 75.0}
    assert (end.state, end.frame_index, end.end_time) == ("end", 22, pytest.approx(2.2))
    assert end.attributes["max_count"] == 5 and end.attributes["reason"] == "below"
    assert end.id == start.id
    assert s.app.counters() == {"crowd size": 0.0, "max crowd": 5.0}


def test_five_spread_or_four_close_is_no_crowd(sim):
    s = sim("crowding", {})
    s.run([people(SPREAD)] * 20 + [people(CLOSE[:4])] * 20)
    assert s.events == []


def test_one_frame_crowd_is_suppressed_by_inertia(sim):
    s = sim("crowding", {})
    s.run([people(SPREAD)] * 3 + [people(CLOSE)] + [people(SPREAD)] * 3)
    assert s.events == []


def test_pixel_radius_and_zone(sim):
    s = sim("crowding", {"radius": 10, "radius_unit": "px"})
    s.run([people(CLOSE)] * 10)
    assert s.events == []  # people are 20 px apart
    s = sim("crowding", {"zone": "square", "min_count": 3})
    s.run([people(SPREAD)] * 10)  # all at y=100: outside the square
    assert s.events == []
    s.run([people(CLOSE)] * 10)
    # zone entry confirmed on frame 12 (3 frames), then the crowd itself needs 3 frames
    assert [(e.state, e.frame_index, e.zone) for e in s.events] == [("start", 14, "square")]
