"""Live views on demand: `LiveViewers` counts who watches each camera and tells the service
on the first viewer and after the last; the live routes hold or lease their cameras.

The demand callable here records what the supervisor's `set_live_demand` would be told (and,
like a worker asked to draw, may publish a fresh frame)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts import bearer, fast_auth, user_token
from vigil.api.app import create_app
from vigil.api.live import LiveViewers
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import LiveFrame

LEASE_S = 0.3


@dataclass
class Demand:
    """Every demand change, in order; `on_wanted(camera)` runs when a camera is wanted."""

    calls: list[tuple[str, bool]] = field(default_factory=list)
    on_wanted: Callable[[str], None] | None = None
    told: list[tuple[str, bool, bool]] = field(default_factory=list)  # with `unmasked`

    def __call__(self, camera_id: str, wanted: bool, unmasked: bool) -> None:
        self.calls.append((camera_id, wanted))
        self.told.append((camera_id, wanted, unmasked))
        if wanted and self.on_wanted is not None:
            self.on_wanted(camera_id)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_streams_count_per_camera() -> None:
    demand = Demand()
    viewers = LiveViewers(demand)
    with viewers.watch("gate"):
        with viewers.watch("gate"), viewers.watch("yard"):
            assert demand.calls == [("gate", True), ("yard", True)]
        assert demand.calls[-1] == ("yard", False)  # gate still has its first viewer
        assert viewers.watching("gate") and not viewers.watching("yard")
    assert demand.calls == [("gate", True), ("yard", True), ("yard", False), ("gate", False)]
    viewers.remove("gate")  # one too many: ignored, nothing sent
    assert len(demand.calls) == 4


def test_a_lease_ends_after_the_last_poll() -> None:
    demand = Demand()
    viewers = LiveViewers(demand, lease_s=LEASE_S)
    assert viewers.touch("gate") is True  # nobody watched: the frame may be stale
    assert viewers.touch("gate") is False  # renewed, nothing sent
    time.sleep(LEASE_S / 2)
    viewers.touch("gate")
    time.sleep(LEASE_S / 2)
    assert demand.calls == [("gate", True)]  # the renewal kept it
    wait_until(lambda: demand.calls[-1] == ("gate", False))
    assert demand.calls == [("gate", True), ("gate", False)]
    assert not viewers.watching("gate")


def test_a_lease_ending_under_a_stream_keeps_the_camera() -> None:
    demand = Demand()
    viewers = LiveViewers(demand, lease_s=LEASE_S)
    viewers.touch("gate")
    with viewers.watch("gate"):
        time.sleep(LEASE_S * 2)
        assert demand.calls == [("gate", True)]
    assert demand.calls == [("gate", True), ("gate", False)]


def test_without_demand_nothing_is_ever_stale() -> None:
    viewers = LiveViewers()
    assert viewers.touch("gate") is False  # the workers draw always: no wait for a frame


@dataclass
class Site:
    state: ServiceState
    client: TestClient
    demand: Demand


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    store = EventStore(database)
    cameras = [CameraInfo.create(c, f"rtsp://127.0.0.1:9/{c}") for c in ("gate", "yard")]
    state = ServiceState(cameras, store, storage=tmp_path / "data")
    demand = Demand()
    app = create_app(state, fast_auth(store), live_demand=demand)
    app.state.live_viewers = LiveViewers(demand, lease_s=LEASE_S)
    with TestClient(app, headers=bearer(user_token(app.state.auth))) as client:
        yield Site(state, client, demand)
    database.close()


def test_latest_jpg_of_an_unwatched_camera_waits_for_a_fresh_frame(site: Site) -> None:
    site.state.apply(LiveFrame("gate", time.time() - 60, b"stale"))

    def draw(camera_id: str) -> None:  # as a worker asked to draw does, a moment later
        frame = LiveFrame(camera_id, time.time() + 0.2, b"fresh")
        threading.Timer(0.2, site.state.apply, [frame]).start()

    site.demand.on_wanted = draw
    r = site.client.get("/api/cameras/gate/latest.jpg")
    assert r.status_code == 200 and r.content == b"fresh"
    assert site.demand.calls == [("gate", True)]
    wait_until(lambda: site.demand.calls[-1] == ("gate", False))  # polls stopped


def test_latest_jpg_gives_up_waiting_after_a_while(site: Site) -> None:
    site.client.app.state.live_viewers = LiveViewers(site.demand)  # type: ignore[attr-defined]
    site.state.apply(LiveFrame("gate", time.time() - 60, b"stale"))
    started = time.monotonic()
    r = site.client.get("/api/cameras/gate/latest.jpg")
    waited = time.monotonic() - started
    assert r.status_code == 200 and r.content == b"stale"  # better than nothing
    assert 1.2 < waited < 3.0
    started = time.monotonic()
    assert site.client.get("/api/cameras/gate/latest.jpg").content == b"stale"
    assert time.monotonic() - started < 0.5  # watched now: no wait


def test_mjpeg_and_live_socket_watch_their_cameras(site: Site) -> None:
    site.state.apply(LiveFrame("gate", time.time(), b"\xff\xd8gate"))
    site.state.apply(LiveFrame("yard", time.time(), b"\xff\xd8yard"))
    with site.client.stream("GET", "/api/cameras/gate/live.mjpeg?fps=20&frames=1") as r:
        assert r.status_code == 200
        b"".join(r.iter_bytes())
    assert site.demand.calls == [("gate", True), ("gate", False)]

    site.demand.calls.clear()
    only_yard = bearer(user_token(site.client.app.state.auth, "yardie", "viewer", ["yard"]))  # type: ignore[attr-defined]
    with site.client.websocket_connect("/api/live", headers=only_yard) as ws:
        assert ws.receive_bytes() == b"yard\n\xff\xd8yard"
        assert site.demand.calls == [("yard", True)]  # never the camera it may not see
    wait_until(lambda: site.demand.calls == [("yard", True), ("yard", False)])


def test_unmasked_demand_follows_the_entitled_viewers() -> None:
    """A camera's unmasked picture is wanted only while someone entitled to it watches
    (a stream or a polled picture), and told apart from the masked demand."""
    demand = Demand()
    viewers = LiveViewers(demand, lease_s=LEASE_S)
    with viewers.watch("gate"):
        with viewers.watch("gate", unmasked=True):
            assert demand.told == [("gate", True, False), ("gate", True, True)]
        assert demand.told[-1] == ("gate", True, False)  # the masked viewer stays
    assert demand.told[-1] == ("gate", False, False)
    assert viewers.touch("yard", unmasked=True)  # nobody watched it unmasked: maybe stale
    assert not viewers.touch("yard", unmasked=True)
    assert viewers.touch("yard") is False  # watched already (unmasked counts)
    wait_until(lambda: demand.told[-1] == ("yard", False, False))
    yard = [t for t in demand.told if t[0] == "yard"]
    assert yard[0] == ("yard", True, True) and yard[-1] == ("yard", False, False)
    assert len(yard) <= 3  # (the unmasked lease may end a moment before the other)
