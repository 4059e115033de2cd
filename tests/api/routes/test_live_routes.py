"""Live routes: ``latest.jpg``, MJPEG, and the WebSockets ``/api/ws`` and ``/api/live``."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from accounts import bearer, fast_auth, user_token
from api.site import T0, PartReader, Site, event, jpeg, objects_message, status
from vigil.api.app import create_app
from vigil.api.state import CameraInfo, ServiceState
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import (
    EventMessage,
    LiveFrame,
)


def test_latest_jpg(site: Site) -> None:
    r = site.client.get("/api/cameras/cam1/latest.jpg")
    assert r.status_code == 404 and "no frame" in r.json()["detail"]
    image = jpeg(200)
    site.state.apply(LiveFrame("cam1", T0, image))
    r = site.client.get("/api/cameras/cam1/latest.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    assert r.content == image


def test_websocket_streams_events_and_objects(site: Site) -> None:
    ev = event(T0, "cam1", attributes={"direction": "in", "n": np.int64(3)})
    with site.client.websocket_connect("/api/ws") as ws:
        assert site.client.app.state.ws_clients == 1  # type: ignore[attr-defined]
        site.state.hub.publish(EventMessage(ev, T0 + 0.2, "/snap.jpg"))
        site.state.hub.publish(status("cam1", T0))  # not for the WebSocket
        site.state.hub.publish(objects_message("cam2"))
        first = ws.receive_json()
        assert first["kind"] == "event"
        assert first["id"] == ev.id and first["camera"] == "cam1"
        assert first["attributes"] == {"direction": "in", "n": 3}
        assert first["wall_time"] == T0 + 0.2 and first["snapshot"] is True
        second = ws.receive_json()
        assert second == {
            "kind": "objects",
            "camera": "cam2",
            "frame_index": 7,
            "pts": 1.5,
            "wall_time": T0,
            "width": 640,
            "height": 480,
            "objects": [
                {
                    "track_id": 3,
                    "class_id": 0,
                    "class_name": "person",
                    "confidence": 0.9,
                    "box": [1.0, 2.0, 30.0, 60.0],
                }
            ],
        }
    deadline = time.monotonic() + 5
    while site.client.app.state.ws_clients and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert site.client.app.state.ws_clients == 0  # type: ignore[attr-defined]
    assert not site.state.hub._subscriptions  # unsubscribed on disconnect


def test_live_frames_of_every_camera_over_one_websocket(site: Site) -> None:
    """`WS /api/live`: each camera's new live JPEG as a binary message (id, newline, JPEG),
    a frame sent once, only the cameras the user may see."""
    one, two = jpeg(10), jpeg(200)
    site.state.apply(LiveFrame("cam1", site.clock.now, one))
    site.state.apply(LiveFrame("cam2", site.clock.now, two))
    with site.client.websocket_connect("/api/live?fps=30") as ws:
        assert site.client.app.state.live_streams == 1  # type: ignore[attr-defined]
        got = dict(ws.receive_bytes().split(b"\n", 1) for _ in range(2))
        assert got == {b"cam1": one, b"cam2": two}
        newer = jpeg(90)
        site.state.apply(LiveFrame("cam2", site.clock.now + 0.25, newer))
        assert ws.receive_bytes() == b"cam2\n" + newer  # cam1 unchanged: not sent again
    deadline = time.monotonic() + 5
    while site.client.app.state.live_streams and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert site.client.app.state.live_streams == 0  # type: ignore[attr-defined]

    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    only_cam2 = bearer(user_token(auth, "frontdesk", "viewer", ["cam2"]))
    with site.client.websocket_connect("/api/live", headers=only_cam2) as ws:
        assert ws.receive_bytes() == b"cam2\n" + newer
        site.state.apply(LiveFrame("cam1", site.clock.now + 0.5, one))
        site.state.apply(LiveFrame("cam2", site.clock.now + 0.5, two))
        assert ws.receive_bytes() == b"cam2\n" + two  # never cam1's
    for bad in ("fps=0", "fps=31", "fps=x"):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            site.client.websocket_connect(f"/api/live?{bad}") as ws,
        ):
            ws.receive_bytes()
        assert refused.value.code == 1008


def test_websocket_camera_filter(site: Site) -> None:
    with site.client.websocket_connect("/api/ws?camera=cam2&objects=false") as ws:
        site.state.hub.publish(EventMessage(event(T0, "cam1"), T0))
        site.state.hub.publish(objects_message("cam2"))  # objects not wanted
        wanted = event(T0 + 1, "cam2", "yard", "intrusion")
        site.state.hub.publish(EventMessage(wanted, T0 + 1))
        got = ws.receive_json()
        assert got["kind"] == "event" and got["id"] == wanted.id


def test_websocket_publish_from_another_thread(site: Site) -> None:
    with site.client.websocket_connect("/api/ws?camera=cam1") as ws:
        ev = event(T0, "cam1")
        threading.Timer(0.2, site.state.hub.publish, [EventMessage(ev, T0)]).start()
        assert ws.receive_json()["id"] == ev.id


def test_websocket_unknown_camera_is_refused(site: Site) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        site.client.websocket_connect("/api/ws?camera=nope") as ws,
    ):
        ws.receive_json()
    assert info.value.code == 1008
    assert not site.state.hub._subscriptions


def test_mjpeg_stream_parts(site: Site) -> None:
    frames = [jpeg(10), jpeg(240)]
    site.state.apply(LiveFrame("cam1", T0, frames[0]))
    threading.Timer(0.3, site.state.apply, [LiveFrame("cam1", T0 + 1, frames[1])]).start()
    with site.client.stream("GET", "/api/cameras/cam1/live.mjpeg?fps=20&frames=2") as r:
        assert r.status_code == 200
        content_type = r.headers["content-type"]
        match = re.fullmatch(r"multipart/x-mixed-replace; boundary=(\S+)", content_type)
        assert match, content_type
        parts = PartReader(r.iter_bytes(), match.group(1)).read(3)
    assert [body for _, body in parts] == frames  # ended after `frames=2`
    for headers, body in parts:
        assert headers["content-type"] == "image/jpeg"
        assert int(headers["content-length"]) == len(body)
    assert site.client.app.state.live_streams == 0  # type: ignore[attr-defined]


def test_mjpeg_ends_when_client_disconnects(tmp_path: Path) -> None:
    """Through a real uvicorn server: closing the connection ends the endless stream."""
    import uvicorn

    from uvicorn_thread import served

    with Database(":memory:") as database:
        store = EventStore(database)
        state = ServiceState([CameraInfo.create("cam1", "rtsp://cam/1")], store, storage=tmp_path)
        state.apply(LiveFrame("cam1", T0, jpeg()))
        app = create_app(state, fast_auth(store))
        headers = bearer(user_token(app.state.auth, "viewer", "viewer"))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        with served(config) as (server, thread, port):
            url = f"http://127.0.0.1:{port}/api/cameras/cam1/live.mjpeg?fps=20"
            with httpx.Client(timeout=5, headers=headers) as client, client.stream("GET", url) as r:
                assert r.status_code == 200
                threading.Timer(0.2, state.apply, [LiveFrame("cam1", T0 + 1, jpeg(50))]).start()
                reader = PartReader(r.iter_raw(), "vigilframe")
                assert len(reader.read(2)) == 2
                time.sleep(0.2)
                assert app.state.live_streams == 1  # endless while the client reads
                state.apply(LiveFrame("cam1", T0 + 2, jpeg(60)))
                assert reader.read(1)[0][1] == jpeg(60)
            deadline = time.monotonic() + 5
            while app.state.live_streams and time.monotonic() < deadline:
                time.sleep(0.02)
            assert app.state.live_streams == 0

            # Stopping: `state.close()` ends the endless responses so the server can exit.
            with httpx.Client(timeout=5, headers=headers) as client, client.stream("GET", url) as r:
                reader = PartReader(r.iter_raw(), "vigilframe")
                assert len(reader.read(1)) == 1
                started = time.monotonic()
                state.close()
                server.should_exit = True
                assert len(reader.read(100)) < 100  # the body ends (else: 100 keepalives)
                thread.join(timeout=5)
                assert not thread.is_alive()
                assert time.monotonic() - started < 3


def test_close_ends_websockets(site: Site) -> None:
    from starlette.websockets import WebSocketDisconnect

    with site.client.websocket_connect("/api/ws") as ws:
        site.state.close()
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1001
