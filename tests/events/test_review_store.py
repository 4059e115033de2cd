"""Review items kept in the database as events are stored (`EventStore.add`), read, filtered
and marked (`ReviewStore`), and dropped with their events."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text

from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.events.review import ReviewSettings, group_events
from vigil.events.review_store import ReviewFilters, ReviewStore


def ev(t: float, end: float | None = None, source: str = "cam", **kw) -> Event:
    kw.setdefault("app", "walkers")
    kw.setdefault("type", "line_crossing")
    return Event(source=source, start_time=t, end_time=t if end is None else end,
                 frame_index=int(t), **kw)  # fmt: skip


@pytest.fixture
def store(database: str):
    """A store on each backend (tests/postgres_server.py's `database`: SQLite, PostgreSQL)."""
    with Database(database) as opened:
        yield EventStore(opened)


def shapes(items) -> list[tuple[str, float, float, str, int]]:
    return sorted((i.source, i.start, i.end, i.severity, len(i.event_ids)) for i in items)


def test_items_stored_batch_by_batch_are_those_of_the_whole_stream(store: EventStore) -> None:
    rng = random.Random(7)
    stream: list[Event] = []
    t = 0.0
    for _ in range(300):
        t += rng.choice([1, 2, 3, 8, 15, 40])
        kind = rng.choice(["line_crossing", "line_crossing", "intrusion", "occupancy"])
        stream.append(ev(t, t + rng.choice([0, 0, 5, 30]), source=rng.choice(["a", "b"]),
                         type=kind, class_name=rng.choice(["person", "car"])))  # fmt: skip
    for i in range(0, len(stream), 17):  # as the service stores them: in batches
        store.add(stream[i : i + 17])
    page = ReviewStore(store.database).page(ReviewFilters(), "me", limit=1000)
    stored = [found.item for found in page.items]
    assert shapes(stored) == shapes(group_events(stream, store.review))
    assert page.total == len(stored) < len(stream) / 2
    assert [i.start for i in stored] == sorted((i.start for i in stored), reverse=True)
    reviewed = {e for i in stored for e in i.event_ids}
    assert reviewed == {e.id for e in stream if e.type != "occupancy"}


def test_a_long_lived_event_grows_its_item_as_its_records_arrive(store: EventStore) -> None:
    start = ev(100, None, type="loitering", state="start", zone="hall", class_name="person")
    start.end_time = None
    store.add([start])
    store.add([ev(103, class_name="car")])
    store.add([ev(100, 160, type="loitering", state="end", id=start.id)])
    (found,) = ReviewStore(store.database).page(ReviewFilters(), "me").items
    item = found.item
    assert (item.start, item.end, item.severity) == (100, 160, "alert")
    assert item.classes == {"person", "car"} and item.zones == {"hall"}
    assert len(item.event_ids) == 2


def test_filters_facets_and_marks(store: EventStore) -> None:
    store.add([
        ev(0, app="walkers", line="door", class_name="person"),
        ev(2, 9, app="road", type="intrusion", zone="road", class_name="person"),
        ev(100, app="walkers", line="door", class_name="bicycle"),
        ev(50, source="yard", app="gate", type="entered", zone="lawn", class_name="car"),
        ev(60, source="yard", app="level", type="occupancy", zone="lawn"),
    ])  # fmt: skip
    reviews = ReviewStore(store.database)

    def starts(**filters) -> list[float]:
        return [f.item.start for f in reviews.page(ReviewFilters(**filters), "me").items]

    assert starts() == [100, 50, 0]
    assert starts(source="yard") == [50]
    assert starts(sources=["cam"]) == [100, 0]
    assert starts(app="road") == [0]
    assert starts(zone="door") == [100, 0] and starts(zone="lawn") == [50]
    assert starts(class_name="bicycle") == [100]
    assert starts(type="entered") == [50]
    assert starts(severity="alert") == [0] and starts(severity="detection") == [100, 50]
    assert starts(since=20, until=80) == [50]
    assert starts(since=5, until=10) == [0]  # overlapping the range is enough

    facets = reviews.facets(None)
    assert facets.cameras == ["cam", "yard"]
    assert facets.apps == ["gate", "road", "walkers"]  # no "level": its reports are series
    assert facets.zones == ["door", "lawn", "road"]
    assert facets.classes == ["bicycle", "car", "person"]
    assert (facets.first, facets.last) == (0, 100)
    assert reviews.facets(["yard"]).apps == ["gate"]

    newest = reviews.page(ReviewFilters(), "me").items[0].item.id
    reviews.mark(newest, "me", True)
    reviews.mark(newest, "me", True)  # twice is once
    assert starts(reviewed=True) == [100] and starts(reviewed=False) == [50, 0]
    assert reviews.page(ReviewFilters(reviewed=True), "someone else").total == 0
    reviews.mark(newest, "me", False)
    assert starts(reviewed=True) == []


def test_retention_drops_items_with_their_events(store: EventStore) -> None:
    store.add([ev(0), ev(1), ev(500)])
    reviews = ReviewStore(store.database)
    old = reviews.page(ReviewFilters(until=100), "me").items[0].item.id
    reviews.mark(old, "me", True)
    assert store.delete_before(100) == 2
    assert [f.item.start for f in reviews.page(ReviewFilters(), "me").items] == [500]
    assert reviews.get(old, "me") is None


def test_settings_decide_severity_and_series(tmp_path: Path) -> None:
    settings = ReviewSettings.model_validate(
        {"alerts": {"types": [], "zones": ["vault"]}, "series": ["heartbeat"]}
    )
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database, settings)
        store.add([ev(0, type="intrusion"), ev(100, zone="vault"), ev(200, type="heartbeat")])
        items = ReviewStore(database).page(ReviewFilters(), "me").items
        assert [(f.item.start, f.item.severity) for f in items] == [
            (100, "alert"),
            (0, "detection"),
        ]


def test_events_stored_before_review_items_are_grouped_once(store: EventStore) -> None:
    stream = [ev(t, type="intrusion" if t % 7 == 0 else "line_crossing") for t in range(0, 900, 4)]
    stream += [ev(t, type="occupancy") for t in range(0, 900, 10)]
    store.add(stream)
    with store.database.write() as session:  # as a database from before migration 0008
        for table in ("review_marks", "review_item_events", "review_items"):
            session.execute(text(f"DELETE FROM {table}"))
    assert store.review_missing()
    store.rebuild_review()
    assert not store.review_missing()
    items = [f.item for f in ReviewStore(store.database).page(ReviewFilters(), "me", 500).items]
    assert shapes(items) == shapes(group_events(stream, store.review))


def test_events_a_fence_refuses_make_no_review_items(store: EventStore) -> None:
    """A cluster node that lost its camera's lease (no lease at its epoch) writes neither
    the events nor their review items."""
    refused = store.add([ev(0), ev(1, type="intrusion")], node="stale", fence={"cam": 3})
    assert len(refused) == 2
    assert ReviewStore(store.database).page(ReviewFilters(), "me").total == 0
    assert not store.review_missing()
