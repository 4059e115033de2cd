import pytest

PERSON, CAR = 0, 2
ROAD_Y = 600  # inside the (normalised) "road" zone, y 400..800


def test_car_that_stops_fires_after_min_seconds_and_ends_when_it_moves(sim):
    s = sim("stopped_vehicle", {"zone": "road", "min_seconds": 5})
    xs = [30 * i for i in range(20)] + [600] * 100 + [600 + 30 * k for k in range(1, 11)]
    for x in xs:
        s.step([(1, CAR, x, ROAD_Y)])
    start, end = s.events
    # drives at 30 px/frame (0.6 box heights); the frame-21 reset starts the still time
    assert start.attributes == {"stopped_since": 2.1}
    assert (start.state, start.frame_index, start.start_time) == ("start", 71, pytest.approx(7.1))
    assert (start.track_id, start.class_name, start.zone) == (1, "car", "road")
    # moving again from frame 120, confirmed after 3 frames
    assert (end.state, end.frame_index, end.attributes["reason"]) == ("end", 122, "moved")
    assert end.attributes["stopped_seconds"] == pytest.approx(10.1)
    assert s.app.counters() == {"stopped": 0.0, "stops": 1.0}


def test_slowly_moving_car_never_fires_but_a_jittering_stopped_one_does(sim):
    s = sim("stopped_vehicle", {"zone": "road", "min_seconds": 5})
    for i in range(100):
        jitter = 4 if i % 2 else -4  # box noise well below 0.2 box heights (10 px)
        s.step([(1, CAR, 5 * i, ROAD_Y), (2, CAR, 500 + jitter, ROAD_Y + jitter)])
    assert [(e.track_id, e.state, e.frame_index) for e in s.events] == [(2, "start", 50)]


def test_outside_the_zone_or_wrong_class_never_fires(sim):
    s = sim("stopped_vehicle", {"zone": "road", "min_seconds": 2})
    s.run([[(1, CAR, 500, 200), (2, PERSON, 500, ROAD_Y)] for _ in range(50)])
    assert s.events == []


def test_pixel_displacement_unit(sim):
    # the car shifts 4 px back and forth, 3 frames at each position
    frames = [[(1, CAR, 500 + 4 * ((i // 3) % 2), ROAD_Y)] for i in range(50)]
    s = sim("stopped_vehicle", {"zone": "road", "min_seconds": 2})
    s.run(frames)
    assert [e.frame_index for e in s.events] == [20]  # 4 px < 0.2 box heights (10 px)
    s = sim(
        "stopped_vehicle",
        {"zone": "road", "min_seconds": 2, "max_displacement": 2, "displacement_unit": "px"},
    )
    s.run(frames)
    assert s.events == []  # 4 px for 3 frames is a move at 2 px


def test_stopped_car_that_disappears_ends_lost(sim):
    s = sim("stopped_vehicle", {"zone": "road", "min_seconds": 1})
    s.run([[(1, CAR, 500, ROAD_Y)] for _ in range(20)] + [[] for _ in range(30)])
    start, end = s.events
    assert start.frame_index == 10
    assert (end.end_time, end.attributes["reason"]) == (1.9, "lost")
