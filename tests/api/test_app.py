"""The app as a whole: unknown cameras are 404 JSON, odd input is never a 500, the OpenAPI
schema lists every route, time parameters, and the app needs no server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from api.site import T0, Site
from vigil.api.schemas import parse_time
from vigil.events import Event


def test_parse_time() -> None:
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time(12) == 12.0
    assert parse_time("2023-11-14T22:13:20Z") == T0
    assert parse_time("2023-11-14T22:13:20") == T0  # naive: UTC
    assert parse_time("2023-11-14T23:13:20+01:00") == T0
    for bad in ("nan", "inf", "-inf", "1e999", "yesterday", "", True, None):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_unknown_camera_is_404_json(site: Site) -> None:
    for path in (
        "/api/cameras/nope",
        "/api/cameras/nope/latest.jpg",
        "/api/cameras/nope/live.mjpeg",
        "/api/recordings?camera=nope",
        f"/api/recordings/export?camera=nope&start={T0}&end={T0 + 10}",
    ):
        r = site.client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json"
        assert "nope" in r.json()["detail"]


# --------------------------------------------------------------------------- schema, robustness


def test_openapi_lists_every_route(site: Site) -> None:
    from fastapi.routing import APIRoute

    schema = site.client.get("/openapi.json").json()
    paths = schema["paths"]
    routes = {r.path for r in site.client.app.routes if isinstance(r, APIRoute)}  # type: ignore[attr-defined]
    assert routes <= set(paths)
    assert set(paths) >= {
        "/api/health",
        "/api/cameras",
        "/api/cameras/{camera_id}",
        "/api/cameras/{camera_id}/latest.jpg",
        "/api/cameras/{camera_id}/live.mjpeg",
        "/api/events",
        "/api/events/{event_id}",
        "/api/events/{event_id}/snapshot.jpg",
        "/api/events/{event_id}/clip.mp4",
        "/api/recordings",
        "/api/recordings/export",
        "/api/counts",
        "/metrics",
    }
    ok = paths["/api/events"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/EventPage"}
    assert "404" in paths["/api/cameras/{camera_id}"]["get"]["responses"]
    assert (
        "image/jpeg"
        in paths["/api/events/{event_id}/snapshot.jpg"]["get"]["responses"]["200"]["content"]
    )
    assert "video/mp4" in paths["/api/recordings/export"]["get"]["responses"]["200"]["content"]
    assert "/api/ws" in schema["info"]["description"]
    assert site.client.get("/docs").status_code == 200


def test_no_server_error_for_odd_input(site: Site, events: list[Event]) -> None:
    odd = [
        "",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "'; DROP TABLE events; --",
        "é" * 300,
        "-1",
        "1e308",
    ]
    paths = []
    for v in odd:
        paths += [
            f"/api/cameras/{v}",
            f"/api/cameras/{v}/latest.jpg",
            f"/api/events/{v}",
            f"/api/events/{v}/snapshot.jpg",
            f"/api/events/{v}/clip.mp4",
            f"/api/events?camera={v}&app={v}&type={v}&class_name={v}",
            f"/api/events?since={v}&until={v}&limit={v}&offset={v}",
            f"/api/recordings?camera={v}&start={v}&end={v}",
            f"/api/recordings?camera=cam1&start={v}",
            f"/api/recordings/export?camera=cam1&start={v}&end={v}",
            f"/api/counts?camera={v}&app={v}&interval={v}&since={v}&until={v}",
            f"/api/counts?since={v}",
            f"/api/cameras/cam1/live.mjpeg?fps={v}&frames={v}",
        ]
    paths += [
        "/api/events?since=-1e308&until=1e308",
        "/api/counts?since=0&interval=1",
        "/api/counts?since=1e308&interval=31622400",
        "/api/recordings?camera=cam1&start=-1e308&end=1e308",
        "/api/recordings?camera=cam1&start=253402300800",
    ]
    for path in paths:
        r = site.client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text)
    assert site.client.get("/api/nowhere").status_code == 404


def test_create_app_needs_no_server(site: Site) -> None:
    """The app is plain ASGI: it can be driven without uvicorn or a TestClient."""

    async def call() -> tuple[int, bytes]:
        transport = httpx.ASGITransport(app=site.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil") as client:
            r = await client.get("/api/health")
            return r.status_code, r.content

    code, body = asyncio.run(call())
    assert code == 200 and json.loads(body)["status"] in ("ok", "degraded")
