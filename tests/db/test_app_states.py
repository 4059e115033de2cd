"""`AppStateStore` on SQLite and PostgreSQL: a camera's saved app states round-trip as JSON,
a save replaces what the camera had, and a save under an epoch that is no longer the
camera's lease's is refused with nothing of it stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vigil.cluster.leases import LeaseStore
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database

LINE = {"kind": "line_crossing", "version": 1, "state": {"counts": {"person in": 3.0}}}
PEAK = {"kind": "occupancy", "version": 1, "state": {"current": 1, "max": 4}}


@pytest.fixture
def opened(database: str) -> Iterator[Database]:
    with Database(database) as db:
        yield db


def test_saved_states_round_trip_and_a_save_replaces(opened: Database) -> None:
    store = AppStateStore(opened)
    assert store.load("gate") == {}
    assert store.save("gate", {"crossings": LINE, "people": PEAK})
    assert store.save("door", {"crossings": LINE})
    assert store.load("gate") == {"crossings": LINE, "people": PEAK}
    later = {**LINE, "state": {"counts": {"person in": 4.0, "person out": 1.0}}}
    assert store.save("gate", {"crossings": later})  # "people" was removed from the camera
    assert AppStateStore(opened).load("gate") == {"crossings": later}
    assert store.load("door") == {"crossings": LINE}


def test_a_save_under_a_stale_epoch_is_refused(opened: Database) -> None:
    store, leases = AppStateStore(opened), LeaseStore(opened)
    assert not store.save("gate", {"crossings": LINE}, epoch=1)  # no lease at all
    assert store.load("gate") == {}
    first = leases.grant("gate", "node-a")
    assert store.save("gate", {"crossings": LINE}, epoch=first.epoch)
    moved = leases.grant("gate", "node-b")  # the camera moves: node-a's epoch is stale
    late = {**LINE, "state": {"counts": {"person in": 99.0}}}
    assert not store.save("gate", {"crossings": late}, epoch=first.epoch)
    assert store.load("gate") == {"crossings": LINE}
    assert store.save("gate", {"crossings": late}, epoch=moved.epoch)
    assert store.load("gate") == {"crossings": late}
