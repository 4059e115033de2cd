"""``GET /api/counts``: line crossings and occupancy per interval."""

from __future__ import annotations

import pytest

from api.site import HOUR, T0, Site, event

# --------------------------------------------------------------------------- counts


def test_counts_line_crossings_and_occupancy(site: Site) -> None:
    def crossing(t: float, cls: str, direction: str, app: str = "door", source: str = "cam1"):
        return event(t, source, app, "line_crossing", cls, line="gate",
                     attributes={"direction": direction})  # fmt: skip

    def occupancy(t: float, count: int, app: str = "room", source: str = "cam1"):
        return event(t, source, app, "occupancy", None, zone="hall",
                     attributes={"count": count, "by_class": {"person": count}})  # fmt: skip

    site.store.add(
        [
            crossing(T0 + 10, "person", "in"),
            crossing(T0 + 20, "person", "in"),
            crossing(T0 + 30, "person", "out"),
            crossing(T0 + HOUR + 5, "person", "in"),
            crossing(T0 + 2 * HOUR + 5, "car", "out"),
            crossing(T0 + 50, "person", "in", source="cam2"),
            occupancy(T0 + 100, 2),
            occupancy(T0 + 200, 4),
            occupancy(T0 + 2 * HOUR + 10, 1),
            event(T0 + 60, "cam1", "room", "occupancy_alarm", None, state="start"),
        ]
    )
    hour0 = (T0 // HOUR) * HOUR  # buckets are aligned to the epoch without `since`
    body = site.client.get("/api/counts?camera=cam1").json()
    assert body["interval"] == 3600
    assert body["buckets"] == [hour0, hour0 + HOUR, hour0 + 2 * HOUR]
    series = {(s["class_name"], s["direction"]): s for s in body["line_crossings"]}
    assert series[("person", "in")]["counts"] == [2, 1, 0]
    assert series[("person", "out")]["counts"] == [1, 0, 0]
    assert series[("car", "out")]["counts"] == [0, 0, 1]
    assert series[("person", "in")]["line"] == "gate" and series[("person", "in")]["total"] == 3
    assert all(s["camera"] == "cam1" for s in body["line_crossings"])
    (occ,) = body["occupancy"]
    assert (occ["app"], occ["zone"], occ["samples"]) == ("room", "hall", 3)
    assert occ["max"] == [4, None, 1] and occ["mean"] == [3.0, None, 1.0]
    assert occ["last"] == [4, None, 1]

    body = site.client.get(f"/api/counts?since={T0}&until={T0 + 60}&interval=30").json()
    assert body["buckets"] == [T0, T0 + 30]
    series = {(s["camera"], s["class_name"], s["direction"]): s["counts"]
              for s in body["line_crossings"]}  # fmt: skip
    assert series == {
        ("cam1", "person", "in"): [2, 0],
        ("cam1", "person", "out"): [0, 1],
        ("cam2", "person", "in"): [0, 1],
    }
    assert body["occupancy"] == []

    assert site.client.get("/api/counts?app=room").json()["line_crossings"] == []
    empty = site.client.get("/api/counts?camera=nobody").json()
    assert empty["buckets"] == [] and empty["line_crossings"] == [] and empty["occupancy"] == []


@pytest.mark.parametrize(
    "query",
    [
        "interval=0",
        "interval=-5",
        "interval=1.5",
        "interval=999999999",
        f"since={T0}&until={T0}",
        f"since={T0}&until={T0 + 10_001}&interval=1",  # too many buckets
        "since=-1e300&until=1e300",
        "until=nan",
    ],
)
def test_counts_bad_params_are_422(site: Site, query: str) -> None:
    assert site.client.get(f"/api/counts?{query}").status_code == 422
