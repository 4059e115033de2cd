"""Writes fenced by camera leases (`vigil.db.fencing`) on SQLite and PostgreSQL: events,
segments, track summaries and app state written under an epoch that is no longer the camera's are refused
and nothing of them is stored, and a grant racing a write never lets a stale write in."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from vigil.cluster.leases import LeaseStore
from vigil.db.app_states import AppStateStore
from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.forensics.store import TrackQuery, TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.recording.index import SegmentIndex
from vigil.recording.segments import SegmentInfo


@dataclass
class Site:
    database: Database
    leases: LeaseStore
    events: EventStore


@pytest.fixture
def site(database: str) -> Iterator[Site]:
    with Database(database) as opened:
        yield Site(opened, LeaseStore(opened), EventStore(opened))


def crossing(camera: str, t: float = 1.0) -> Event:
    return Event(camera, "count", "line_crossing", t, int(t * 10))


def segment(camera: str, name: str = "a") -> SegmentInfo:
    return SegmentInfo(camera, f"/rec/{camera}/{name}.mp4", 1.0, 2.0, 100)


def test_events_under_a_stale_epoch_are_refused_and_not_stored(site: Site) -> None:
    site.leases.grant("cam1", "node-a")
    site.leases.grant("cam2", "node-a")
    current = crossing("cam1", 1.0)
    assert site.events.add([current], node="node-a", fence={"cam1": 1, "cam2": 1}) == []
    site.leases.grant("cam1", "node-b")  # cam1 moves: node-a's epoch 1 is stale
    stale, still = crossing("cam1", 2.0), crossing("cam2", 2.0)
    unleased, unfenced = crossing("cam9", 2.0), crossing("cam3", 2.0)
    fence = {"cam1": 1, "cam2": 1, "cam9": 1}  # cam3: not a camera node-a runs
    refused = site.events.add([stale, still, unleased, unfenced], node="node-a", fence=fence)
    assert refused == [stale, unleased, unfenced]
    assert [e.id for e in site.events.query()] == [current.id, still.id]
    # An update of a stored event under the stale epoch changes nothing either.
    ended = Event("cam1", "count", "line_crossing", 1.0, 10, state="end", end_time=5.0,
                  id=current.id)  # fmt: skip
    assert site.events.add([ended], node="node-a", fence={"cam1": 1}) == [ended]
    unchanged = site.events.get(current.id)
    assert unchanged is not None and (unchanged.state, unchanged.end_time) == ("instant", None)
    assert site.events.add([ended], node="node-b", fence={"cam1": 2}) == []
    assert site.events.get(current.id).state == "end"  # type: ignore[union-attr]
    site.leases.revoke("cam2")
    assert site.events.add([crossing("cam2", 3.0)], fence={"cam2": 1}) != []


def test_events_record_their_node(site: Site) -> None:
    from sqlalchemy import select

    from vigil.db.schema import EventRow

    site.leases.grant("cam1", "node-a")
    site.events.add([crossing("cam1", 1.0)], node="node-a", fence={"cam1": 1})
    site.events.add([crossing("cam2", 2.0)])  # a single box: no node, no fence
    with site.database.read() as session:
        nodes = session.execute(select(EventRow.source, EventRow.node).order_by(EventRow.source))
        assert list(nodes) == [("cam1", "node-a"), ("cam2", None)]


def test_segments_under_a_stale_epoch_are_refused_and_not_indexed(site: Site) -> None:
    index = SegmentIndex(site.database, "node-a")
    site.leases.grant("cam1", "node-a")
    first = index.add(segment("cam1", "a"), epoch=1)
    assert first is not None and first.node == "node-a"
    site.leases.grant("cam1", "node-b")
    assert index.add(segment("cam1", "b"), epoch=1) is None
    assert index.add(segment("cam1", "a"), epoch=1) is None  # no update of the stored one
    assert index.add_many([segment("cam1", "c"), segment("cam2", "c")], fence={"cam1": 1}) == []
    assert [(s.path, s.size_bytes) for s in SegmentIndex(site.database).oldest()] == [
        ("/rec/cam1/a.mp4", 100)
    ]
    on_b = SegmentIndex(site.database, "node-b").add(segment("cam1", "d"), epoch=2)
    assert on_b is not None and on_b.node == "node-b"


# --------------------------------------------------------------------------- races


class Pause:
    """Holds the thread that runs a statement matching `marker` on `database` right after
    it (its transaction still open) until `release()`: a deterministic interleaving of two
    real transactions on the real database."""

    def __init__(self, database: Database, marker: str) -> None:
        self.reached = threading.Event()
        self._go = threading.Event()
        self._marker = marker.lower()
        event.listen(database.engine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self._marker in statement.lower() and not self.reached.is_set():
            self.reached.set()
            assert self._go.wait(30), "never released"

    def release(self) -> None:
        self._go.set()  # the listener stays (the engine's dispatch may be iterating it), idle


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


@dataclass(frozen=True)
class Writer:
    """One kind of fenced write of camera cam1's data: the statement that stores it, the
    write itself (whether it was stored), and how many of them are stored."""

    marker: str
    write: Callable[[Site, int, int], bool]  # (site, epoch, serial) -> stored
    stored: Callable[[Site], int]


WRITERS = {
    "events": Writer(
        "insert into events",
        lambda site, epoch, n: not site.events.add([crossing("cam1", n)], fence={"cam1": epoch}),
        lambda site: site.events.count(),
    ),
    "segments": Writer(
        "insert into segments",
        lambda site, epoch, n: (
            SegmentIndex(site.database, "node-a").add(segment("cam1", str(n)), epoch=epoch)
            is not None
        ),
        lambda site: SegmentIndex(site.database).count(),
    ),
    "app states": Writer(
        "insert into app_states",
        lambda site, epoch, n: AppStateStore(site.database).save(
            "cam1", {f"app{n}": {"n": n}}, epoch=epoch
        ),
        lambda site: len(AppStateStore(site.database).load("cam1")),
    ),
}


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_a_grant_waits_for_a_fenced_write_in_progress(site: Site, writer: Writer) -> None:
    """The write checked the epoch and is about to commit when the head grants the camera
    elsewhere: the grant waits for the commit, so the write was before the grant."""
    site.leases.grant("cam1", "node-a")
    pause = Pause(site.database, writer.marker)
    writing, stored = in_thread(lambda: writer.write(site, 1, 1))
    assert pause.reached.wait(10)
    granter, granted = in_thread(lambda: site.leases.grant("cam1", "node-b"))
    granter.join(0.5)
    assert granter.is_alive(), "the grant did not wait for the write's transaction"
    pause.release()
    writing.join(10)
    granter.join(10)
    assert stored == [True] and granted[0].epoch == 2
    assert not writer.write(site, 1, 2)  # after the grant: refused
    assert writer.stored(site) == 1


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_a_write_racing_a_grant_in_progress_is_refused(site: Site, writer: Writer) -> None:
    """The head's grant has moved the epoch but not committed when a write under the old
    epoch starts: the write waits for the grant and is refused, nothing stored."""
    site.leases.grant("cam1", "node-a")
    pause = Pause(site.database, "insert into camera_leases")
    granter, granted = in_thread(lambda: site.leases.grant("cam1", "node-b"))
    assert pause.reached.wait(10)
    writing, stored = in_thread(lambda: writer.write(site, 1, 1))
    writing.join(0.5)
    assert writing.is_alive(), "the write did not wait for the grant's transaction"
    pause.release()
    granter.join(10)
    writing.join(10)
    assert granted[0].epoch == 2 and stored == [False]
    assert writer.stored(site) == 0


# --------------------------------------------------------------------------- app state


def test_app_state_round_trips_and_a_save_replaces_the_cameras(site: Site) -> None:
    states = AppStateStore(site.database)
    assert states.load("cam1") == {}
    totals = {"in": 3, "out": 1, "by_class": {"person": [3, 1]}, "name": "Zoë ✓"}
    assert states.save("cam1", {"door": totals, "lobby": {"count": 2, "peak": 5}})
    assert states.save("cam2", {"door": {"in": 9}})
    assert states.load("cam1") == {"door": totals, "lobby": {"count": 2, "peak": 5}}
    assert states.save("cam1", {"lobby": {"count": 0, "peak": 5}})  # door left the camera
    assert states.load("cam1") == {"lobby": {"count": 0, "peak": 5}}
    assert states.save("cam1", {})
    assert states.load("cam1") == {} and states.load("cam2") == {"door": {"in": 9}}


@pytest.mark.parametrize(
    "state", [{"x": float("nan")}, {"x": object()}, [1, 2]], ids=["NaN", "object", "list"]
)
def test_app_state_that_is_no_json_object_is_one_line(site: Site, state: Any) -> None:
    with pytest.raises(ValueError, match="app state of cam1/door: ") as info:
        AppStateStore(site.database).save("cam1", {"door": state})
    assert "\n" not in str(info.value)
    assert AppStateStore(site.database).load("cam1") == {}


def test_app_state_under_a_stale_epoch_is_refused_and_not_stored(site: Site) -> None:
    states = AppStateStore(site.database)
    site.leases.grant("cam1", "node-a")
    assert states.save("cam1", {"door": {"in": 1}}, epoch=1)
    site.leases.grant("cam1", "node-b")
    assert not states.save("cam1", {"door": {"in": 2}, "lobby": {"peak": 7}}, epoch=1)
    assert states.load("cam1") == {"door": {"in": 1}}
    assert states.save("cam1", {"door": {"in": 5}}, epoch=2)
    assert not states.save("cam9", {"door": {"in": 1}}, epoch=1)  # never leased
    assert states.load("cam1") == {"door": {"in": 5}} and states.load("cam9") == {}


def test_track_summaries_under_a_stale_epoch_are_refused(site: Site) -> None:
    def summary(camera: str) -> TrackSummary:
        path = np.array([(0, 0.5, 0.5), (1, 0.6, 0.5)], dtype=np.float32)
        return TrackSummary(camera, 1, "person", 10.0, 11.0, path)

    tracks = TrackStore(site.database)
    site.leases.grant("cam1", "node-a")
    assert tracks.add([summary("cam1")], node="node-a", fence={"cam1": 1}) == []
    site.leases.grant("cam1", "node-b")  # epoch 2: node-a's writes are stale now
    stale = summary("cam1")
    assert tracks.add([stale], node="node-a", fence={"cam1": 1}) == [stale]
    stored = tracks.search(TrackQuery(start=0.0, end=100.0))
    assert [(hit.source, hit.first_time) for hit in stored] == [("cam1", 10.0)]
