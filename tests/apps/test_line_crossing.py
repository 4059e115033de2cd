import pytest

PERSON, CAR = 0, 2


def walk(tid, cid, x, ys):
    return [[(tid, cid, x, y)] for y in ys]


DOWN = list(range(400, 601, 20))  # 400 .. 600, crosses y=500 at the 6th frame
UP = DOWN[::-1]


def test_person_walking_across_counts_in_then_out_and_car_is_ignored(sim):
    s = sim("line_crossing", {"line": "door"})
    for y in DOWN + UP:
        s.step([(1, PERSON, 300, y), (2, CAR, 700, y)])
    evs = s.events
    assert [(e.frame_index, e.attributes["direction"]) for e in evs] == [(6, "in"), (18, "out")]
    assert all(e.track_id == 1 and e.class_name == "person" and e.line == "door" for e in evs)
    assert all(e.state == "instant" and e.end_time == e.start_time for e in evs)
    assert evs[0].start_time == pytest.approx(0.6)
    assert evs[0].type == "line_crossing" and evs[0].app == "app" and evs[0].source == "cam"
    assert s.app.counters() == {"person in": 1.0, "person out": 1.0}


def test_directions_filter_only_limits_events_not_counts(sim):
    s = sim("line_crossing", {"line": "door", "directions": "in"})
    s.run(walk(1, PERSON, 300, DOWN + UP))
    assert [e.attributes["direction"] for e in s.events] == ["in"]
    assert s.app.counters() == {"person in": 1.0, "person out": 1.0}


def test_all_classes_when_classes_empty(sim):
    s = sim("line_crossing", {"line": "door", "classes": []})
    s.run(walk(2, CAR, 300, DOWN))
    assert s.app.counters() == {"car in": 1.0}


def test_standing_on_the_line_is_not_counted_repeatedly(sim):
    s = sim("line_crossing", {"line": "door"})
    ys = [480, 490, 499, 501, 499, 501, 499, 501, 499, 490, 480]
    s.run(walk(1, PERSON, 300, ys))
    assert s.events == []
    assert s.app.counters() == {"person in": 0.0, "person out": 0.0}


def test_two_people_in_one_frame_are_counted_separately(sim):
    s = sim("line_crossing", {"line": "door"})
    for y in DOWN:
        s.step([(1, PERSON, 300, y), (5, PERSON, 600, 1000 - y)])
    assert sorted((e.track_id, e.attributes["direction"]) for e in s.events) == [
        (1, "in"),
        (5, "out"),
    ]


def test_unknown_line_is_named(sim):
    with pytest.raises(ValueError, match=r"^unknown line 'nope' \(known: door\)$"):
        sim("line_crossing", {"line": "nope"})
