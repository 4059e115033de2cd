"""The route x role matrix, for pixels: on a camera whose privacy policy masks viewers and
operators, no route of the app (every GET and the live WebSocket, as enumerated by
`test_route_policies`) gives a viewer or an operator one byte of the unmasked picture, with
or without ``?unmasked=true``, while an admin (whom the policy does not mask) gets it.

On main's recordings routes (masked playback, clips, exports: WP-P2) the deployment has no
recordings (404), so they are pinned by their own tests (tests/api/routes)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from anyio import ClosedResourceError
from deployment import JPEG, Deployment, build
from test_route_policies import ENDPOINTS, Endpoint, url_for

from vigil.config.site import SiteConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.service.messages import LiveFrame, RawFrame

MARKER = b"UNMASKED-PICTURE"
PICTURE = cv2.imencode(".jpg", np.full((24, 32, 3), 200, np.uint8))[1].tobytes()
UNMASKED = PICTURE[:2] + b"\xff\xfe\x00\x12" + MARKER + PICTURE[2:]  # a comment segment
MASKED = JPEG  # what the worker sends as the masked picture
GRID_WAIT_S = 1.0
PICTURES = [e for e in ENDPOINTS if e.method in ("GET", "WS") and e.path != "/api/ws"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("privacy-matrix")
    with Database(f"sqlite:///{tmp / 'vigil.db'}") as database:
        d = build(tmp, EventStore(database))
        site = SiteConfig.model_validate(
            {
                "cameras": [
                    {"id": "cam1", "url": "rtsp://cam/1",
                     "privacy": {"mask": ["person"], "for": ["viewer", "operator"]}},
                    {"id": "cam2", "url": "rtsp://cam/2"},
                ],
                "storage": {"directory": str(tmp / "data")},
            }
        )  # fmt: skip
        d.state.set_site(site)
        # as the worker sends them: the unmasked live picture beside the masked one while
        # someone entitled to it watches; the zone editor's picture masked
        d.state.apply(LiveFrame("cam1", 2.0, MASKED, UNMASKED))
        d.state.apply(RawFrame("cam1", 2.0, 32, 24, MASKED))
        snapshot = d.state.snapshots_dir / "cam1" / f"{d.events['cam1'].id}.jpg"
        snapshot.parent.mkdir(parents=True)
        snapshot.write_bytes(UNMASKED)
        snapshot.with_suffix(".crop.jpg").write_bytes(UNMASKED)  # its object crop
        yield d


def body(deployment: Deployment, who: str, endpoint: Endpoint, url: str) -> bytes:
    client = deployment.client(who)
    if endpoint.method == "WS":
        # What the grid sends in a second (cam2's frame; nothing to a user of cam1 only).
        received: list[bytes] = []
        with client.websocket_connect(url) as ws:

            def read() -> None:
                with contextlib.suppress(ClosedResourceError):  # closed while waiting
                    received.append(ws.receive_bytes())

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            reader.join(GRID_WAIT_S)
        return b"".join(received)
    return client.get(url).content


@pytest.mark.parametrize("who", ["viewer", "operator", "restricted"])
@pytest.mark.parametrize("endpoint", PICTURES, ids=str)
def test_no_unmasked_byte_for_a_masked_role(
    deployment: Deployment, endpoint: Endpoint, who: str
) -> None:
    url = url_for(endpoint, deployment, "cam1")
    asks = [url]
    if "unmasked" in endpoint.query:
        asks.append(url + ("&" if "?" in url else "?") + "unmasked=true")
    for ask in asks:
        assert MARKER not in body(deployment, who, endpoint, ask), (who, ask)


def test_the_admin_gets_the_pictures_so_the_marker_would_show(deployment: Deployment) -> None:
    served = [
        str(e)
        for e in PICTURES
        if MARKER in body(deployment, "admin", e, url_for(e, deployment, "cam1"))
    ]
    assert sorted(served) == [
        "GET /api/cameras/{camera_id}/latest.jpg",
        "GET /api/cameras/{camera_id}/live.mjpeg",
        "GET /api/events/{event_id}/crop.jpg",
        "GET /api/events/{event_id}/snapshot.jpg",
        "WS /api/live",
    ]
