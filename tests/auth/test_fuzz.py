"""Schemathesis against the OpenAPI schema of the whole app, in-process (ASGI), as an admin
(every route lets the requests in): generated input, valid and invalid, never gets a 5xx.

Bounded: `EXAMPLES` per operation, derandomized so that a run is reproducible, no
example database left behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from deployment import Deployment, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from accounts import PASSWORD, bearer
from vigil.db.database import Database
from vigil.events import EventStore

EXAMPLES = 25


def _operations() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, Database(":memory:") as database:
        store = EventStore(database)
        schema = schemathesis.openapi.from_asgi("/openapi.json", build(Path(tmp), store).app)
        return [(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Any]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with Database(f"sqlite:///{tmp / 'vigil.db'}") as database:
        store = EventStore(database)
        deployment = build(tmp, store)
        yield deployment, schemathesis.openapi.from_asgi("/openapi.json", deployment.app)


def test_every_route_is_fuzzed() -> None:
    assert len(OPERATIONS) > 20 and ("POST", "/api/auth/login") in OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=lambda v: v)
def test_no_server_errors(fuzzed: tuple[Deployment, Any], method: str, path: str) -> None:
    deployment, schema = fuzzed
    headers = bearer(deployment.tokens["admin"])
    operation = schema[path][method]
    # Real cameras, events and users too: random ids alone only ever reach the 404s.
    if deployment.auth.user("fuzzed") is None:  # an earlier DELETE may have removed it
        deployment.auth.add_user("fuzzed", PASSWORD, "viewer")
    known = {"camera_id": "cam1", "event_id": deployment.events["cam1"].id, "username": "fuzzed"}
    real = {k: v for k, v in known.items() if "{" + k + "}" in path}
    # Valid input and input that breaks the schema (where the schema allows breaking it).
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if path.endswith("/live.mjpeg"):
            case.query = {**(case.query or {}), "frames": 1}  # the stream ends after a frame
        response = case.call(headers=headers)
        assert response.status_code < 500, (
            f"{method} {case.formatted_path} query={case.query} body={case.body!r}: "
            f"{response.status_code} {response.text[:300]}"
        )

    check()
