"""Grouping events into review items (`vigil.events.review`): pure, no database."""

from __future__ import annotations

from vigil.events import Event
from vigil.events.review import ReviewSettings, event_severity, group_events, place_event


def ev(t: float, end: float | None = None, source: str = "cam", **kw) -> Event:
    kw.setdefault("app", "walkers")
    kw.setdefault("type", "line_crossing")
    return Event(source=source, start_time=t, end_time=t if end is None else end,
                 frame_index=int(t), **kw)  # fmt: skip


SETTINGS = ReviewSettings()


def test_overlapping_events_of_a_camera_form_one_item_with_what_was_involved() -> None:
    events = [
        ev(0, class_name="person", line="door"),
        ev(4, class_name="bicycle", line="door"),
        ev(6, 20, app="road", type="intrusion", class_name="person", zone="road"),
        ev(25, class_name="person", line="door"),  # within 10 s of the intrusion's end
    ]
    (item,) = group_events(events, SETTINGS)
    assert (item.source, item.start, item.end) == ("cam", 0, 25)
    assert item.severity == "alert"
    assert item.thumbnail == events[2].id  # the alert's object stands for the item
    assert item.apps == {"walkers", "road"} and item.types == {"line_crossing", "intrusion"}
    assert item.classes == {"person", "bicycle"} and item.zones == {"door", "road"}
    assert item.event_ids == [e.id for e in events]


def test_separate_scenes_and_cameras_are_separate_items_newest_first() -> None:
    items = group_events([ev(0), ev(100), ev(1, source="other")], SETTINGS)
    assert [(i.source, i.start) for i in items] == [("cam", 100), ("other", 1), ("cam", 0)]
    assert all(i.severity == "detection" for i in items)


def test_periodic_reports_are_series_not_items() -> None:
    reports = [ev(t, app="walkway_occupancy", type="occupancy") for t in range(0, 600, 10)]
    assert group_events(reports, SETTINGS) == []
    assert place_event(reports[0], [], SETTINGS) is None


def test_a_busy_scene_is_cut_into_items_of_at_most_max_item_seconds() -> None:
    settings = ReviewSettings(max_item_seconds=60)
    items = group_events([ev(t) for t in range(0, 300, 5)], settings)
    assert len(items) == 5
    assert all(i.end - i.start <= 60 for i in items)
    assert sum(len(i.event_ids) for i in items) == 60


def test_an_event_bridging_two_items_merges_them() -> None:
    early, late = ev(0, 5), ev(30, 40)
    items = [p.item for p in (place_event(e, [], SETTINGS) for e in (early, late)) if p]
    bridge = ev(10, 25, type="intrusion")
    placed = place_event(bridge, items, SETTINGS)
    assert placed is not None
    assert placed.item is items[0] and placed.merged == (items[1],)
    assert placed.item.event_ids == [early.id, late.id, bridge.id]
    assert (placed.item.start, placed.item.end, placed.item.severity) == (0, 40, "alert")


def test_a_long_lived_events_later_record_grows_its_item() -> None:
    start = ev(0, None, type="loitering", state="start")
    start.end_time = None
    placed = place_event(start, [], SETTINGS)
    assert placed is not None and placed.item.end == 0
    end = ev(0, 200, type="loitering", state="end", id=start.id)
    again = place_event(end, [placed.item], SETTINGS)
    assert again is not None and again.item is placed.item
    assert placed.item.end == 200 and placed.item.event_ids == [start.id]


def test_severity_is_configurable_per_type_app_and_zone() -> None:
    settings = ReviewSettings.model_validate(
        {"alerts": {"types": ["wrong_way"], "apps": ["vip_door"], "zones": ["vault"]}}
    )
    assert event_severity(ev(0, type="wrong_way"), settings) == "alert"
    assert event_severity(ev(0, type="intrusion"), settings) == "detection"
    assert event_severity(ev(0, app="vip_door"), settings) == "alert"
    assert event_severity(ev(0, type="entered", zone="vault"), settings) == "alert"
    assert event_severity(ev(0, line="vault"), settings) == "alert"
    assert event_severity(ev(0, zone="hall"), settings) == "detection"
    # by default intrusions, abandoned objects and wrong ways are alerts, crossings not
    assert event_severity(ev(0, type="intrusion"), SETTINGS) == "alert"
    assert event_severity(ev(0, type="abandoned_object"), SETTINGS) == "alert"
    assert event_severity(ev(0, type="wrong_way"), SETTINGS) == "alert"
    assert event_severity(ev(0), SETTINGS) == "detection"
