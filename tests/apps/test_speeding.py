"""``speeding`` and the line-crossing speed, on synthetic tracks seen in perspective: vehicles
driven at known speeds along a calibrated road, projected to the image with pixel jitter."""

import numpy as np
import pytest

from apps.conftest import CAR, CLASSES, PERSON, TRUCK, Sim
from vigil.apps import Scene
from vigil.apps.registry import build_app
from vigil.geometry import GroundPlane, Line, Zone

WIDTH, HEIGHT, FPS = 1280, 720, 25.0
IMAGE = ((100.0, 700.0), (1180.0, 700.0), (760.0, 200.0), (520.0, 200.0))
GROUND = ((0.0, 0.0), (10.0, 0.0), (10.0, 40.0), (0.0, 40.0))  # 10 m wide, 40 m deep
PLANE = GroundPlane(IMAGE, GROUND)


def road_scene() -> Scene:
    return Scene.build(
        WIDTH,
        HEIGHT,
        zones=[Zone("road", IMAGE, ground=GROUND), Zone("verge", ((0, 0), (99, 0), (99, 99)))],
        lines=[Line("gantry", (300, 450), (980, 450))],  # across the road, ~13 m in
        class_names=CLASSES,
    )


def drive(
    vehicles: list[tuple[int, int, float, float]], seconds: float, jitter_px: float = 1.5
) -> list[list[tuple[float, ...]]]:
    """Frames of ``(track, class, x, y, w, h)`` for vehicles ``(track, class, lane_x_m,
    speed_kmh)`` driving away from the camera from y = 1 m, projected through the road's
    homography, with Gaussian jitter on the anchor; boxes shrink with distance."""
    rng = np.random.default_rng(11)
    inverse = np.linalg.inv(PLANE.matrix)
    frames = []
    for i in range(int(seconds * FPS)):
        items: list[tuple[float, ...]] = []
        for track, cls, lane, kmh in vehicles:
            y = 1.0 + kmh / 3.6 * i / FPS
            if y > 39.0:
                continue
            p = inverse @ np.array([lane, y, 1.0])
            x_px, y_px = p[:2] / p[2] + rng.normal(0.0, jitter_px, 2)
            scale = (y_px - 180.0) / 520.0  # ~1 near the camera, small far away
            items.append((track, cls, x_px, y_px, 180.0 * scale, 120.0 * scale))
        frames.append(items)
    return frames


def run(kind: str, settings: dict, frames) -> Sim:
    sim = Sim(build_app(kind, "app", settings, road_scene()), fps=FPS, width=WIDTH, height=HEIGHT)
    sim.run(frames)
    return sim


def test_speeding_reports_speeds_within_ten_percent_and_only_above_the_limit():
    vehicles = [
        (1, CAR, 2.0, 30.0),
        (2, CAR, 5.0, 72.0),
        (3, TRUCK, 8.0, 95.0),
        (4, CAR, 3.5, 55.0),
    ]
    sim = run("speeding", {"zone": "road", "limit": 60}, drive(vehicles, 3.0))
    by_track = {e.track_id: e for e in sim.events}
    assert sorted(by_track) == [2, 3]  # 30 and 55 km/h are within the limit
    errors = []
    for track, _, _, truth in vehicles:
        if track in by_track:
            event = by_track[track]
            assert event.type == "speeding" and event.zone == "road"
            assert event.attributes["limit_kmh"] == 60.0
            errors.append(abs(event.attributes["speed_kmh"] - truth) / truth)
    print(f"speeding: relative speed errors {[round(e, 3) for e in errors]}")
    assert max(errors) <= 0.10
    assert sim.app.counters() == {"speeding": 2.0}


def test_per_class_limits_and_one_event_per_passage():
    vehicles = [(1, CAR, 2.0, 72.0), (2, TRUCK, 6.0, 72.0)]
    sim = run(
        "speeding", {"zone": "road", "limit": 90, "limits": {"truck": 60}}, drive(vehicles, 3)
    )
    assert [(e.track_id, e.attributes["limit_kmh"]) for e in sim.events] == [(2, 60.0)]


def test_people_are_not_vehicles_by_default():
    sim = run("speeding", {"zone": "road", "limit": 5}, drive([(1, PERSON, 5.0, 20.0)], 2))
    assert sim.events == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"zone": "verge"}, "zone 'verge' is not calibrated: give its four points measured"),
        ({"zone": "road", "limits": {"tank": 30}}, "unknown class 'tank'"),
        ({"zone": "road", "limits": {"car": 0}}, "limits.car must be > 0"),
        ({}, "zone"),
    ],
)
def test_bad_settings_name_the_problem(settings, message):
    with pytest.raises(ValueError, match=message):
        build_app("speeding", "app", settings, road_scene())


def test_line_crossings_in_a_calibrated_zone_carry_the_speed():
    sim = run("line_crossing", {"line": "gantry", "classes": ["car"]}, drive([(1, CAR, 5, 50)], 2))
    (event,) = sim.events
    assert event.attributes["direction"] in {"in", "out"}
    assert event.attributes["speed_kmh"] == pytest.approx(50.0, rel=0.10)


def test_line_crossings_without_calibration_have_no_speed(scene):
    sim = Sim(build_app("line_crossing", "app", {"line": "door"}, scene), fps=10)
    sim.run([[(1, PERSON, 500, 400 + 20 * i)] for i in range(12)])
    (event,) = sim.events
    assert event.attributes == {"direction": "in"}
