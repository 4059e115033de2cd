import math

import pytest
from pydantic import ValidationError

from vigil.apps.registry import build_app

PERSON, CAR = 0, 2


def test_wrong_way_fires_once_right_way_and_sideways_never(sim):
    s = sim("wrong_way", {"angle": 90})  # allowed: down the image
    for i in range(40):
        s.step(
            [
                (1, CAR, 200, 100 + 10 * i),  # right way, 100 px/s
                (2, CAR, 400, 900 - 10 * i),  # wrong way, 100 px/s
                (3, CAR, 10 * i, 300),  # sideways (90° off): not wrong
                (4, PERSON, 600, 900 - 10 * i),  # wrong way, but not a vehicle
            ]
        )
    (ev,) = s.events
    # velocity known after 0.5 s of history (frame 5), wrong for 1 s -> frame 15
    assert (ev.state, ev.frame_index, ev.track_id, ev.class_name) == ("instant", 15, 2, "car")
    assert ev.attributes == {"speed": 100.0, "angle": 180.0, "velocity": [0.0, -100.0]}
    assert s.app.counters() == {"wrong way": 1.0}


def test_direction_vector_and_min_speed(sim):
    s = sim("wrong_way", {"direction": [0, 1], "min_speed": 150})
    s.run([[(2, CAR, 400, 900 - 10 * i)] for i in range(40)])
    assert s.events == []  # 100 px/s is below min_speed
    s = sim("wrong_way", {"direction": [0, 1], "min_speed": 50, "zone": "square"})
    s.run([[(2, CAR, 400, 900 - 10 * i)] for i in range(60)])
    # inside the square (pixel rows < 600) from frame 31, confirmed at 33; wrong for 1 s -> 43
    assert [e.frame_index for e in s.events] == [43]
    assert s.events[0].zone == "square"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "give exactly one of direction"),
        ({"angle": 90, "direction": [0, 1]}, "give exactly one of direction"),
        ({"direction": [0, 0]}, "non-zero vector"),
        ({"angle": 90, "tolerance": 200}, "less than 180"),
    ],
)
def test_settings_validation(scene, settings, message):
    with pytest.raises(ValidationError, match=message):
        build_app("wrong_way", "ww", settings, scene)


def test_tolerance_angle(sim):
    # 110° off the allowed direction (down): left and a little up, 100 px/s
    vx, vy = 10 * math.cos(math.radians(200)), 10 * math.sin(math.radians(200))
    frames = [[(2, CAR, 800 + vx * i, 500 + vy * i)] for i in range(30)]
    s = sim("wrong_way", {"angle": 90})  # default tolerance 120°
    s.run(frames)
    assert s.events == []
    s = sim("wrong_way", {"angle": 90, "tolerance": 100})
    s.run(frames)
    assert [e.frame_index for e in s.events] == [15]
    assert s.events[0].attributes["angle"] == 110.0
